/// SplitMix64: small, fast, and the same sequence on every platform, so a failing case
/// reproduces from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    /// Log-uniform in [lo, hi].
    mutating func logUniform(_ lo: Float, _ hi: Float) -> Float {
        lo * Float.exp(Float.random(in: 0...1, using: &self) * Float.log(hi / lo))
    }
    mutating func pick<T>(_ options: [T]) -> T { options[int(0...(options.count - 1))] }
}

extension Float {
    static func exp(_ x: Float) -> Float { Float(Foundation_exp(Double(x))) }
    static func log(_ x: Float) -> Float { Float(Foundation_log(Double(x))) }
}

#if canImport(Glibc)
import Glibc
private func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
private func Foundation_log(_ x: Double) -> Double { Glibc.log(x) }
#elseif canImport(Darwin)
import Darwin
private func Foundation_exp(_ x: Double) -> Double { Darwin.exp(x) }
private func Foundation_log(_ x: Double) -> Double { Darwin.log(x) }
#endif
