// swift-tools-version: 6.0
// The libFuzzer target for frame and request-body parsing. Its own package, because it
// must be built with -sanitize=fuzzer (libFuzzer supplies main): run scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "pollcast-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "pollcast", path: "..")],
    targets: [
        .executableTarget(
            name: "pollcast-fuzz",
            dependencies: [.product(name: "PollcastServer", package: "pollcast")]
        )
    ],
    swiftLanguageModes: [.v6]
)
