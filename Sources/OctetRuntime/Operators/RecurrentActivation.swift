import Foundation
import OctetCore

/// One activation function of a recurrent cell (ONNX RNN, GRU, LSTM: the `activations`
/// attribute), with its `alpha` and `beta` where it takes them. Names and formulas:
/// onnx/defs/rnn/defs.cc ("Activation functions"); defaults as ONNX Runtime's
/// rnn_helpers (LeakyRelu α 0.01, ThresholdedRelu α 1, ScaledTanh α 1 β 1,
/// HardSigmoid α 0.2 β 0.5, Elu α 1, Affine α 1 β 0).
enum RecurrentActivation: Sendable, Equatable {
    case relu, tanh, sigmoid, softsign, softplus
    case affine(Double, Double)
    case leakyRelu(Double)
    case thresholdedRelu(Double)
    case scaledTanh(Double, Double)
    case hardSigmoid(Double, Double)
    case elu(Double)

    func callAsFunction(_ x: Double) -> Double {
        switch self {
        case .relu: return Swift.max(x, 0)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .softsign: return x / (1 + Swift.abs(x))
        case .softplus: return Foundation.log1p(Foundation.exp(x))
        case let .affine(a, b): return a * x + b
        case let .leakyRelu(a): return x >= 0 ? x : a * x
        case let .thresholdedRelu(a): return x > a ? x : 0
        case let .scaledTanh(a, b): return a * Foundation.tanh(b * x)
        case let .hardSigmoid(a, b): return Swift.min(Swift.max(a * x + b, 0), 1)
        case let .elu(a): return x >= 0 ? x : a * (Foundation.exp(x) - 1)
        }
    }

    /// The node's `activations` (each consuming the next `activation_alpha` and
    /// `activation_beta` it takes, as ONNX Runtime reads them), or `defaults` repeated per
    /// direction when absent.
    ///
    /// - Throws: `GraphError.attribute` naming the node for an unknown name or a list of
    ///   the wrong length (`perDirection` × directions).
    static func list(_ n: Node, defaults: [RecurrentActivation], directions: Int) throws -> [RecurrentActivation] {
        let count = defaults.count * directions
        guard let names = try n.strings("activations") else {
            return Array((0..<directions).map { _ in defaults }.joined())
        }
        guard names.count == count else {
            throw GraphError.attribute(node: n.name, opType: n.opType, name: "activations",
                                       expected: "\(count) names (\(defaults.count) per direction)", got: "\(names.count)")
        }
        var alphas = (try n.floats("activation_alpha") ?? []).map(Double.init)[...]
        var betas = (try n.floats("activation_beta") ?? []).map(Double.init)[...]
        func alpha(_ d: Double) -> Double { alphas.popFirst() ?? d }
        func beta(_ d: Double) -> Double { betas.popFirst() ?? d }
        return try names.map { name in
            switch name.lowercased() {
            case "relu": return .relu
            case "tanh": return .tanh
            case "sigmoid": return .sigmoid
            case "softsign": return .softsign
            case "softplus": return .softplus
            case "affine": let a = alpha(1); return .affine(a, beta(0))
            case "leakyrelu": return .leakyRelu(alpha(0.01))
            case "thresholdedrelu": return .thresholdedRelu(alpha(1))
            case "scaledtanh": let a = alpha(1); return .scaledTanh(a, beta(1))
            case "hardsigmoid": let a = alpha(0.2); return .hardSigmoid(a, beta(0.5))
            case "elu": return .elu(alpha(1))
            default:
                throw GraphError.attribute(node: n.name, opType: n.opType, name: "activations",
                                           expected: "Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign or Softplus", got: name)
            }
        }
    }
}
