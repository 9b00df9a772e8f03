// The public face of Octet for applications that embed it: the runtime, the quantizer,
// ONNX and NumPy I/O, the rules, and the built-in backends, under one import.
//
//     import Octet
//     let session = try Session(modelAt: "resnet18_int8.onnx", threads: 2)
//     let outputs = try session.run(["input": image])
//
// A third-party backend imports `OctetBackendAPI` only; `OctetConformance` checks it.
@_exported import OctetCore
@_exported import OctetCPU
@_exported import OctetDispatch
@_exported import OctetFP16
@_exported import OctetFP32Reference
@_exported import OctetNumPy
@_exported import OctetONNX
@_exported import OctetOneDNN
@_exported import OctetPacked
@_exported import OctetPlugins
@_exported import OctetQNNPack
@_exported import OctetQuant
@_exported import OctetRules
@_exported import OctetRuntime

/// This library's version.
public let octetVersion = "0.1.0"
