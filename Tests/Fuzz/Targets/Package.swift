// swift-tools-version:5.4
// libFuzzer targets for Octet's readers (issue 19): ONNX models (load, shape inference,
// planning, a run on zeros), .npy/.npz files, and rules files. A package of its own so
// the main Package.swift stays free of sanitizer flags; it depends on the repository's
// root package by path. Tools version 5.4 on purpose: from 5.5 SwiftPM renames an
// executable's `main` (`--defsym main=<module>_main`), which collides with libFuzzer's.
//
//   scripts/fuzz build                 # .build-fuzz, -sanitize=fuzzer,address, release
//   scripts/fuzz run onnx 600          # fuzz one target for 600 s, seeded from the corpus
//   scripts/fuzz replay                # every corpus file through its target once
import PackageDescription

// Swift 6 language mode (a 5.4 manifest cannot say so otherwise); no `main`: libFuzzer's runs.
let swiftSettings: [SwiftSetting] = [.unsafeFlags(["-swift-version", "6", "-parse-as-library", "-warnings-as-errors"])]
// libFuzzer (and its `main`) is linked into the fuzz executables only: every module, the
// root package's too, is compiled with AddressSanitizer and libFuzzer's coverage
// (scripts/fuzz passes the flags), but `-sanitize=fuzzer` everywhere would also link
// libFuzzer's `main` into the root package's build tool (OctetRulesTool), which has its own.
let linkerSettings: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

let package = Package(
    name: "OctetFuzz",
    dependencies: [
        .package(name: "Octet", path: "../../.."),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "Octet", package: "Octet")], swiftSettings: swiftSettings),
        .target(name: "CFuzzerHooks"),
        .executableTarget(name: "fuzz-onnx", dependencies: ["FuzzSupport", "CFuzzerHooks"], swiftSettings: swiftSettings, linkerSettings: linkerSettings),
        .executableTarget(name: "fuzz-numpy", dependencies: ["FuzzSupport"], swiftSettings: swiftSettings, linkerSettings: linkerSettings),
        .executableTarget(name: "fuzz-rules", dependencies: ["FuzzSupport"], swiftSettings: swiftSettings, linkerSettings: linkerSettings),
    ]
)
