import OctetCore
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
