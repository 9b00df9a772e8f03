// swift-tools-version:6.1
// A backend of your own, in your own package: depends on Octet by path (`octet` is a
// link to the repository root) and on its conformance harness.
import PackageDescription

let package = Package(
    name: "CustomBackend",
    dependencies: [.package(path: "octet")],
    targets: [
        .executableTarget(
            name: "custom-backend-demo",
            dependencies: [
                .product(name: "Octet", package: "octet"),
                .product(name: "OctetConformance", package: "octet"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
