// swift-tools-version:6.1
// A backend of your own, in your own package: depends on Octet by path (`octet` is a
// link to the repository root): the backend imports OctetBackendAPI only, the demo runs
// it with Octet and checks it with OctetConformance.
import PackageDescription

let package = Package(
    name: "CustomBackend",
    dependencies: [.package(path: "octet")],
    targets: [
        .executableTarget(
            name: "custom-backend-demo",
            dependencies: [
                .product(name: "Octet", package: "octet"),
                .product(name: "OctetBackendAPI", package: "octet"),
                .product(name: "OctetConformance", package: "octet"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
