import OctetCore

/// Reorders a 4-D tensor between NCHW (row-major) and NHWC (channels last); the logical
/// shape stays N x C x H x W. The planner inserts these where channels-last values meet
/// ops that need row-major ones (and before the first channels-last convolution).
struct LayoutConversion: GraphOperator {
    let site: OperatorSite
    let target: TensorLayout

    func outputTypes(_ inputs: [ValueType?], constants: [Tensor?]) throws -> [ValueType] { [try site.type(inputs, 0)] }

    func run(_ inputs: [Tensor?], outputs: inout [Tensor]) throws {
        let x = try site.tensor(inputs, 0)
        guard x.shape.rank == 4, outputs[0].layout == target else { throw site.error("layout conversion needs a 4-D tensor") }
        let (n, c, h, w) = (x.shape.dims[0], x.shape.dims[1], x.shape.dims[2], x.shape.dims[3])
        if x.layout == target {
            try Elementwise.copy(x, into: &outputs[0])
        } else if target == .nhwc {
            // Walk N, H, W, C over an NCHW source.
            Strided.gather(x, strides: [c * h * w, w, 1, h * w], offset: 0, into: &outputs[0], order: try TensorShape([n, h, w, c]))
        } else {
            // Walk N, C, H, W over an NHWC source.
            Strided.gather(x, strides: [h * w * c, 1, w * c, c], offset: 0, into: &outputs[0], order: try TensorShape([n, c, h, w]))
        }
    }
}
