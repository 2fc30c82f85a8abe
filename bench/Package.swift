// swift-tools-version: 6.0
// The load generator and the floor server: a package of their own, so their
// dependencies (HdrHistogram) stay out of the server's build.
import PackageDescription

let package = Package(
    name: "pollcast-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "pollcast", path: ".."),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "pollcast-load",
            dependencies: [
                .product(name: "CLibWebSockets", package: "pollcast"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "pollcast-floor",
            dependencies: [.product(name: "CLibWebSockets", package: "pollcast")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
