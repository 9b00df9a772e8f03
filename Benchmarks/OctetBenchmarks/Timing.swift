/// One thing to time: a call, repeated.
struct Variant {
    var name: String
    var call: () -> Void
}

/// Times `variants` in interleaved rounds (so drift on a shared machine hits all alike)
/// and returns each one's median seconds per call (or, with `best`, the fastest round's: on a
/// machine shared with other work, the least disturbed).
func medianSecondsPerCall(_ variants: [Variant], rounds: Int, minimumSecondsPerRound: Double, best: Bool = false) -> [Double] {
    let clock = ContinuousClock()
    // Warm up and choose an iteration count per variant that fills the round time.
    var iterations: [Int] = []
    for v in variants {
        v.call()
        var n = 1
        while true {
            let t = clock.measure { for _ in 0..<n { v.call() } }
            if t.seconds >= minimumSecondsPerRound || n >= 1 << 20 { break }
            n *= 2
        }
        iterations.append(n)
    }
    var samples = [[Double]](repeating: [], count: variants.count)
    for _ in 0..<rounds {
        for (i, v) in variants.enumerated() {
            let n = iterations[i]
            let t = clock.measure { for _ in 0..<n { v.call() } }
            samples[i].append(t.seconds / Double(n))
        }
    }
    return samples.map { s in
        let sorted = s.sorted()
        if best { return sorted[0] }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Fixed-width text cell.
func cell(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

func fixed(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var text = "\(r)"
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}
