// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Octet",
    products: [
        .library(name: "Octet", targets: ["Octet"]),
        .executable(name: "octet", targets: ["OctetCLI"]),
        // The C API (octet.h) as a shared library for applications in C, C++, Rust, ...
        .library(name: "OctetC", type: .dynamic, targets: ["OctetC"]),
        .executable(name: "octet-benchmarks", targets: ["OctetBenchmarks"]),
        .plugin(name: "OctetRulesCommand", targets: ["OctetRulesCommand"]),
        // What a third-party backend imports (op signature, Backend/Kernel, registry).
        .library(name: "OctetBackendAPI", targets: ["OctetBackendAPI"]),
        // What a backend author checks their backend with, against the reference backend.
        .library(name: "OctetConformance", targets: ["OctetConformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Runtime library only: the ONNX schema's Swift code is generated once and committed
        // (scripts/generate-onnx-proto.sh), so builds never run protoc.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // System libraries (Debian: libcpuid-dev, libdnnl-dev).
        .systemLibrary(
            name: "CLibCPUID",
            pkgConfig: "libcpuid",
            providers: [.apt(["libcpuid-dev"])]
        ),
        // libdnnl-dev ships no pkg-config file; the headers are in /usr/include.
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // Raw CPUID / XGETBV / arch_prctl and the libcpuid wrapper, in C.
        .target(
            name: "COctetCPUProbe",
            dependencies: ["CLibCPUID"]
        ),

        // FP16-weight GEMM micro-kernels and binary16 conversion, in C (no global ISA flags).
        .target(name: "COctetFP16Kernels"),

        // The packed INT8 GEMM's micro-kernels, in C (no global ISA flags).
        .target(name: "COctetPackedKernels"),
        // A thin C layer over oneDNN 2.6's C API.
        .target(name: "COctetDNNLGlue", dependencies: ["CDNNL", "COctetCPUProbe"], linkerSettings: [.linkedLibrary("dnnl")]),

        // Swift modules, bottom to top.
        .target(name: "OctetCore", dependencies: ["COctetThreads"]),
        .target(name: "OctetCPU", dependencies: ["OctetCore", "COctetCPUProbe"]),
        .target(name: "OctetRules", dependencies: ["OctetCore", "OctetCPU"]),
        .executableTarget(
            name: "OctetRulesTool",
            dependencies: ["OctetRules"]
        ),
        .plugin(
            name: "OctetRulesCommand",
            capability: .command(intent: .custom(verb: "octet-rules", description: "Validate, print or diff Octet rules files (backends.json)")),
            dependencies: ["OctetRulesTool"]
        ),
        .plugin(
            name: "EmbedDefaultRules",
            capability: .buildTool(),
            dependencies: ["OctetRulesTool"]
        ),
        .target(
            name: "OctetDispatch",
            dependencies: ["OctetCore", "OctetCPU", "OctetRules"],
            plugins: ["EmbedDefaultRules"]
        ),
        .target(name: "OctetBackendAPI", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch"]),
        .target(name: "OctetFP16", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch", "COctetFP16Kernels"]),
        .target(name: "OctetQNNPack", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch"]),
        .target(name: "OctetPacked", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch", "COctetPackedKernels"]),
        .target(name: "OctetOneDNN", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch", "COctetDNNLGlue"]),
        // The shared-library plugin ABI (octet_plugin.h) and its dlopen shim.
        .target(name: "COctetPlugin", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "OctetPlugins", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch", "COctetPlugin"]),
        // The C API: its header and thread-local error in C, its functions in Swift (@_cdecl).
        .target(name: "COctetAPI"),
        .target(name: "OctetC", dependencies: ["Octet", "COctetAPI"]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "OctetNumPy", dependencies: ["OctetCore", "CZlib"]),
        .target(name: "OctetONNX", dependencies: ["OctetCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "OctetFP32Reference", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch"]),
        // Graph operators, passes and the Session that plans and runs a graph.
        // Observers, calibration data, and the prepare / calibrate / convert passes.
        .target(name: "OctetQuant", dependencies: ["OctetCore", "OctetNumPy", "OctetRuntime"]),
        .target(name: "COctetGraphKernels", dependencies: ["COctetCPUProbe"]),
        .target(name: "COctetThreads"),
        .target(name: "OctetRuntime", dependencies: ["OctetCore", "OctetCPU", "OctetRules", "OctetDispatch", "COctetGraphKernels"]),
        .target(name: "Octet", dependencies: ["OctetCore", "OctetCPU", "OctetRules", "OctetDispatch", "OctetFP16", "OctetQNNPack", "OctetOneDNN", "OctetPacked",
                                              "OctetFP32Reference", "OctetRuntime", "OctetONNX", "OctetNumPy", "OctetQuant", "OctetPlugins"]),
        // The backend conformance harness (a product: backend authors run it too).
        .target(name: "OctetConformance", dependencies: ["OctetCore", "OctetCPU", "OctetDispatch", "OctetQNNPack"]),
        .executableTarget(
            name: "OctetCLI",
            dependencies: [
                "Octet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(name: "CPeak", dependencies: ["COctetCPUProbe"], path: "Benchmarks/CPeak"),
        // Benchmarks: programs, not tests (`swift run -c release octet-benchmarks --help`).
        .executableTarget(
            name: "OctetBenchmarks",
            dependencies: [
                "OctetCore", "OctetCPU", "OctetDispatch", "OctetFP16", "OctetOneDNN", "OctetPacked", "COctetPackedKernels", "CDNNL", "CPeak",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/OctetBenchmarks"
        ),

        // Tests.
        .testTarget(name: "OctetCoreTests", dependencies: ["OctetCore"]),
        .testTarget(name: "OctetCPUTests", dependencies: ["OctetCPU"], exclude: ["CPUIDDumps"]),
        .testTarget(name: "OctetRulesTests", dependencies: ["OctetRules"]),
        .testTarget(name: "OctetDispatchTests", dependencies: ["OctetDispatch", "Octet"]),
        .testTarget(name: "OctetFP16Tests", dependencies: ["OctetFP16", "COctetFP16Kernels", "OctetConformance"]),
        .testTarget(name: "OctetQNNPackTests", dependencies: ["OctetQNNPack", "OctetConformance", "Octet"]),
        .testTarget(name: "OctetPackedTests", dependencies: ["OctetPacked", "COctetPackedKernels", "OctetConformance", "Octet"]),
        .testTarget(name: "OctetNumPyTests", dependencies: ["OctetNumPy"]),
        .testTarget(name: "OctetQuantTests", dependencies: ["OctetQuant", "Octet"]),
        .testTarget(name: "OctetModelTests", dependencies: ["Octet", "OctetONNX", "OctetRuntime", "COctetGraphKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "OctetPluginTests", dependencies: ["Octet", "OctetConformance", "OctetQNNPack"], exclude: ["Fixtures"]),
        .testTarget(name: "OctetCAPITests", dependencies: ["OctetC", "COctetAPI"]),
        .testTarget(name: "OctetOneDNNTests", dependencies: ["OctetOneDNN", "OctetConformance", "Octet"]),
    ],
    swiftLanguageModes: [.v6]
)
