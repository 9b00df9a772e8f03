import Foundation
import Octet
import Testing

/// The element types ONNX allows (issue 16, item 3) through the one typed-kernel mechanism:
/// every expected value is computed here independently — by two's-complement arithmetic
/// spelled out, by the formula in the other precision, or as NumPy prints it (noted) —
/// never read back from Octet.
@Suite struct ElementTypeTests {
    typealias H = HostileGraph

    /// Runs one node `op` over `inputs` (name, tensor) and returns output `y`.
    func run(_ op: String, _ inputs: [(String, Tensor)], attributes: [String: AttributeValue] = [:], constants: [(String, Tensor)] = [],
             outputs: [String] = ["y"], opset: Int = 21) throws -> [String: Tensor] {
        let node = Node(name: "n", opType: op, inputs: inputs.map(\.0) + constants.map(\.0), outputs: outputs, attributes: attributes)
        let g = H.graph([node], inputs: inputs.map { ($0.0, $0.1.dtype, $0.1.shape.dims) }, outputs: outputs,
                        initializers: Dictionary(uniqueKeysWithValues: constants), opset: opset)
        let session = try Session(graph: g, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        return try session.run(Dictionary(uniqueKeysWithValues: inputs))
    }

    func y<T: TensorElement>(_ op: String, _ inputs: [(String, Tensor)], attributes: [String: AttributeValue] = [:], as: T.Type) throws -> [T] {
        let out = try run(op, inputs, attributes: attributes)
        return try #require(out["y"]).scalars(as: T.self)
    }

    func t<T: TensorElement>(_ v: [T]) throws -> Tensor { try Tensor(v, shape: TensorShape([v.count])) }

    // MARK: Integer arithmetic wraps in the operand's own width

    @Test func sixteenBitArithmeticWraps() throws {
        // 65535 + 2 = 65537 ≡ 1 (mod 2^16); 0 - 1 ≡ 65535.
        #expect(try y("Add", [("a", t([65535, 0] as [UInt16])), ("b", t([2, 0] as [UInt16]))], as: UInt16.self) == [1, 0])
        #expect(try y("Sub", [("a", t([0] as [UInt16])), ("b", t([1] as [UInt16]))], as: UInt16.self) == [65535])
        // 300 * 300 = 90000 = 65536 + 24464; -300 * 300 = -90000 ≡ -90000 + 2 * 65536 = 41072 ≡ -24464.
        #expect(try y("Mul", [("a", t([300, -300] as [Int16])), ("b", t([300, 300] as [Int16]))], as: Int16.self) == [24464, -24464])
        // Division truncates toward zero: -7 / 2 = -3.
        #expect(try y("Div", [("a", t([-7, 7] as [Int16])), ("b", t([2, -2] as [Int16]))], as: Int16.self) == [-3, -3])
    }

    @Test func sixtyFourBitIntegersStayExact() throws {
        // 2^62 + 2^62 = 2^63 ≡ -2^63 for s64; 2^64 - 1 + 1 ≡ 0 for u64; neither survives a trip through f64.
        let big: Int64 = 1 << 62
        #expect(try y("Add", [("a", t([big, 9_007_199_254_740_993])), ("b", t([big, 0] as [Int64]))], as: Int64.self) == [Int64.min, 9_007_199_254_740_993])
        #expect(try y("Add", [("a", t([UInt64.max, 1 << 63])), ("b", t([1, 1] as [UInt64]))], as: UInt64.self) == [0, (1 << 63) + 1])
        // u64 comparisons are unsigned: 2^63 > 1 (it would be negative read as s64).
        #expect(try y("Greater", [("a", t([1 << 63, 1] as [UInt64])), ("b", t([1, 2] as [UInt64]))], as: Bool.self) == [true, false])
        // u32 max * 2 ≡ 2^32 - 2.
        #expect(try y("Mul", [("a", t([UInt32.max] as [UInt32])), ("b", t([2] as [UInt32]))], as: UInt32.self) == [4_294_967_294])
    }

    @Test func integerPowerIsExactModuloTheWidth() throws {
        // 3^39 = 4052555153018976267 fits s64; 3^40 wraps: 3^40 - 2^64 = -6289078614652622815 (NumPy's np.power on int64).
        #expect(try y("Pow", [("a", t([3, 3] as [Int64])), ("b", t([39, 40] as [Int64]))], as: Int64.self)
                == [4_052_555_153_018_976_267, -6_289_078_614_652_622_815])
        // An f32 base with a u64 exponent (ONNX Pow allows mixed types): 2^10, 1.5^2.
        #expect(try y("Pow", [("a", t([2, 1.5] as [Float])), ("b", t([10, 2] as [UInt64]))], as: Float.self) == [1024, 2.25])
    }

    // MARK: f64 is computed in double precision

    @Test func doubleArithmeticIsNotRoundedToSingle() throws {
        // NumPy: np.float64(0.1) + np.float64(0.2) = 0.30000000000000004; 1 / 3 = 0.3333333333333333.
        let sum = try y("Add", [("a", t([0.1, 1] as [Double])), ("b", t([0.2, 1e-12] as [Double]))], as: Double.self)
        #expect(sum == [0.30000000000000004, 1.000000000001])
        #expect(try y("Div", [("a", t([1] as [Double])), ("b", t([3] as [Double]))], as: Double.self) == [0.3333333333333333])
        // e = exp(1) to double precision (2.718281828459045, NumPy's np.exp(1.0)); f32 would give 2.7182819843292236.
        let e = try y("Exp", [("x", t([1] as [Double]))], as: Double.self)
        #expect(e == [2.718281828459045])
        // sqrt(2) in double; sigmoid(0) = 0.5; tanh(0.5) = 0.46211715726000974 (np.tanh).
        #expect(try y("Sqrt", [("x", t([2] as [Double]))], as: Double.self) == [1.4142135623730951])
        #expect(try y("Sigmoid", [("x", t([0] as [Double]))], as: Double.self) == [0.5])
        #expect(try y("Tanh", [("x", t([0.5] as [Double]))], as: Double.self) == [0.46211715726000974])
    }

    @Test func doubleReductionsAndRunningSums() throws {
        // Σ (0.1 × 10) in double accumulation = 0.9999999999999999 (NumPy's np.cumsum([0.1]*10)[-1]).
        let tenths = try Tensor([Double](repeating: 0.1, count: 10), shape: TensorShape([10]))
        let cumsum = try y("CumSum", [("x", tenths), ("axis", try H.scalar(Int64(0)))], as: Double.self)
        #expect(cumsum.last == 0.9999999999999999)
        // CumProd of [1, 2, 3, 4] = [1, 2, 6, 24]; exclusive + reverse = [24, 12, 4, 1].
        let x = try t([1, 2, 3, 4] as [Double])
        #expect(try y("CumProd", [("x", x), ("axis", try H.scalar(Int64(0)))], as: Double.self) == [1, 2, 6, 24])
        #expect(try y("CumProd", [("x", x), ("axis", try H.scalar(Int64(0)))], attributes: ["exclusive": .int(1), "reverse": .int(1)], as: Double.self) == [24, 12, 4, 1])
    }

    @Test func integerReductionsWrapAndBooleansReduceAsAnyAndAll() throws {
        // u32: 4294967295 + 2 ≡ 1.
        let sum = try y("ReduceSum", [("x", try Tensor([UInt32.max, 2], shape: TensorShape([1, 2])))], attributes: ["keepdims": .int(0)], as: UInt32.self)
        #expect(sum == [1])
        // ReduceMax of bools (opset 20) is any, ReduceMin is all (per row; axes a constant input).
        let b = try Tensor([true, false, true, true], shape: TensorShape([2, 2]))
        for (op, want) in [("ReduceMax", [true, true]), ("ReduceMin", [false, true])] {
            let out = try run(op, [("x", b)], attributes: ["keepdims": .int(0)], constants: [("axes", try H.ints([1]))])
            #expect(try #require(out["y"]).scalars(as: Bool.self) == want, "\(op)")
        }
    }

    // MARK: Cast: integers never pass through a floating type

    @Test func castKeepsSixtyFourBitIntegersAndWrapsNarrowing() throws {
        let cast = { (x: Tensor, to: DType) throws -> Tensor in
            try #require(try self.run("Cast", [("x", x)], attributes: ["to": .int(Int(to.onnxCode))])["y"])
        }
        // 2^53 + 1 is not a double; its low 32 bits are 1 (a trip through f64 would give 2^53, low bits 0).
        let s = try t([9_007_199_254_740_993, -1, 65_537] as [Int64])
        #expect(try cast(s, .u64).scalars(as: UInt64.self) == [9_007_199_254_740_993, UInt64.max, 65_537])
        #expect(try cast(s, .s32).scalars(as: Int32.self) == [1, -1, 65_537])
        #expect(try cast(s, .u16).scalars(as: UInt16.self) == [1, 65_535, 1])
        // Float to integer truncates toward zero; NaN gives 0; to bool is x != 0.
        #expect(try cast(try t([-2.75, 2.75, .nan] as [Double]), .s16).scalars(as: Int16.self) == [-2, 2, 0])
        #expect(try cast(try t([0, -0.0, 0.5, .nan] as [Float]), .bool).scalars(as: Bool.self) == [false, false, true, true])
        // u64 max to f64 rounds to 2^64 = 18446744073709551616.
        #expect(try cast(try t([UInt64.max]), .f64).scalars(as: Double.self) == [18_446_744_073_709_551_616])
    }

    @Test func castToBFloat16RoundsToNearestEven() throws {
        // bfloat16 keeps 8 significant bits: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 → 1 (even);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6 → 1 + 2^-6 (even); 3.4e38 rounds past the largest → inf.
        let out = try #require(try run("Cast", [("x", t([1.00390625, 1.01171875, -2, 3.4e38] as [Float]))], attributes: ["to": .int(16)])["y"])
        let bits = try out.scalars(as: BFloat16.self).map(\.bits)
        #expect(bits == [0x3F80, 0x3F82, 0xC000, 0x7F80])
        // And back: bf16 → f32 is exact.
        let back = try #require(try run("Cast", [("x", out)], attributes: ["to": .int(1)])["y"])
        #expect(try back.scalars(as: Float.self) == [1, 1.015625, -2, .infinity])
    }

    // MARK: Integer-only and any-type ops

    @Test func bitwiseModAndShiftsOnWideUnsignedTypes() throws {
        #expect(try y("BitwiseAnd", [("a", t([0xFFFF_0000_FFFF_0000] as [UInt64])), ("b", t([0x0F0F_0F0F_0F0F_0F0F] as [UInt64]))], as: UInt64.self) == [0x0F0F_0000_0F0F_0000])
        #expect(try y("BitShift", [("a", t([1, 1] as [UInt16])), ("b", t([15, 16] as [UInt16]))], attributes: ["direction": .string("LEFT")], as: UInt16.self) == [32768, 0])
        // Python's %: -7 % 3 = 2, 7 % -3 = -2; C's fmod: -7 fmod 3 = -1.
        #expect(try y("Mod", [("a", t([-7, 7] as [Int16])), ("b", t([3, -3] as [Int16]))], as: Int16.self) == [2, -2])
        #expect(try y("Mod", [("a", t([-7] as [Int16])), ("b", t([3] as [Int16]))], attributes: ["fmod": .int(1)], as: Int16.self) == [-1])
        // fmod of doubles: fmod(5.5, 2) = 1.5; Python: -5.5 % 2 = 0.5.
        #expect(try y("Mod", [("a", t([5.5, -5.5] as [Double])), ("b", t([2, 2] as [Double]))], attributes: ["fmod": .int(0)], as: Double.self) == [1.5, 0.5])
    }

    @Test func whereEqualAndMaxOnNewTypes() throws {
        let c = try t([true, false, true])
        #expect(try run("Where", [("c", c), ("a", t([1.5, 2.5, 3.5] as [Double])), ("b", t([-1, -2, -3] as [Double]))])["y"]?.scalars(as: Double.self) == [1.5, -2, 3.5])
        let half = try t([BFloat16(0.5), BFloat16(1), BFloat16(2)])
        let out = try #require(try run("Where", [("c", c), ("a", half), ("b", try t([BFloat16(0), BFloat16(0), BFloat16(0)]))])["y"])
        #expect(try out.scalars(as: BFloat16.self).map(\.float) == [0.5, 0, 2])
        #expect(try y("Equal", [("a", t([UInt16.max, 3] as [UInt16])), ("b", t([UInt16.max, 4] as [UInt16]))], as: Bool.self) == [true, false])
        #expect(try y("Max", [("a", t([Int16.min, 5] as [Int16])), ("b", t([-1, 4] as [Int16]))], as: Int16.self) == [-1, 5])
    }

    @Test func bitCastKeepsTheBytes() throws {
        // 1.0f is 0x3F800000 = 1065353216; -1.0 (f64) is 0xBFF0000000000000.
        #expect(try y("BitCast", [("x", t([1, -2] as [Float]))], attributes: ["to": .int(6)], as: Int32.self) == [1_065_353_216, -1_073_741_824])
        #expect(try y("BitCast", [("x", t([-1] as [Double]))], attributes: ["to": .int(13)], as: UInt64.self) == [0xBFF0_0000_0000_0000])
        H.expectError(H.graph([Node(name: "bc", opType: "BitCast", inputs: ["x"], outputs: ["y"], attributes: ["to": .int(7)])],
                              inputs: [("x", .f32, [2])], outputs: ["y"], opset: 26), ["'bc'", "widths must match"])
    }

    // MARK: Half precision math goes through f32

    @Test func halfAndBFloat16ActivationsRoundOnce() throws {
        // Celu(x) = max(0, x) + min(0, α(exp(x/α) - 1)); at x = -1, α = 1: e^-1 - 1 = -0.6321205588,
        // which rounds to f16 -0.63232421875 (the nearest multiple of 2^-11 in [0.5, 1)).
        let x = try t([Float16(-1), Float16(2)])
        let out = try #require(try run("Celu", [("x", x)])["y"])
        #expect(try out.scalars(as: Float16.self) == [Float16(-0.63232421875), 2])
        let nan = try t([Float16.nan, Float16.infinity, 1])
        #expect(try y("IsNaN", [("x", nan)], as: Bool.self) == [true, false, false])
        #expect(try y("IsInf", [("x", nan)], as: Bool.self) == [false, true, false])
    }
}
