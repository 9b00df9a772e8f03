import Octet
import Testing

/// ONNX's QuantizeLinear rounds `x / scale` half to even and then adds the zero point;
/// adding the zero point first rounds in float and can give a different integer.
@Suite struct QuantizeLinearRoundingTests {
    @Test(arguments: [false, true]) func roundsBeforeAddingTheZeroPoint(perAxis: Bool) throws {
        // x / scale just above one half: 1 after rounding, so 128 + 1 (129), where
        // `x / scale + 128` rounds to 128.5 in float and then to 128.
        let x: [Float] = [Float(0.5).nextUp, -Float(0.5).nextUp, 2.5, 3.5]
        let scale = try perAxis ? Tensor([Float(1), 1, 1, 1], shape: TensorShape([4])) : Tensor([Float(1)], shape: .scalar)
        let zero = try perAxis ? Tensor([UInt8](repeating: 128, count: 4), shape: TensorShape([4])) : Tensor([UInt8(128)], shape: .scalar)
        let graph = Graph(name: "q", inputs: [.init(name: "x", type: ValueType(.f32, try TensorShape([1, 4])))], outputs: [.init(name: "y", type: nil)],
                          nodes: [Node(name: "q", opType: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["y"], attributes: perAxis ? ["axis": .int(1)] : [:])],
                          initializers: ["s": scale, "z": zero], opsets: ["": 17])
        let session = try Session(graph: graph, options: SessionOptions(threads: 1, cpu: .host, registry: BackendRegistry.builtIn(), rules: try RuleSet.builtIn()))
        let y = try #require(try session.run(["x": Tensor(x, shape: TensorShape([1, 4]))])["y"]).scalars(as: UInt8.self)
        #expect(y == [129, 127, 130, 132])
    }
}
