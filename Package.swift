// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "pollcast",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pollcast", targets: ["pollcast"]),
        // For the load generator and floor server in bench/ (a nested package).
        .library(name: "CLibWebSockets", targets: ["CLibWebSockets"]),
        // For the fuzz target in Fuzz/ (a nested package, built with -sanitize=fuzzer).
        .library(name: "PollcastServer", targets: ["PollcastServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Slides (.pptx, and the .xlsx inside each chart) are ZIP files.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // /metrics in Prometheus' text format: counters, gauges and histograms with labels.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The C boundary: a modulemap plus static inline shims for what Swift cannot import.
        .systemLibrary(
            name: "CLibWebSockets",
            pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev", "libwebsockets-evlib-uv", "libuv1-dev", "libssl-dev", "libcap-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CQRencode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]
        ),
        // Pure Swift domain: polls, rules, tally, snapshots, wire messages.
        .target(name: "PollcastCore"),
        // Use cases and the storage protocols: no libwebsockets, no database driver.
        .target(name: "PollcastApp", dependencies: ["PollcastCore", "COpenSSL"]),
        // The only code that talks to SQLite (the default, one process).
        .target(name: "PollcastStore", dependencies: ["PollcastCore", "PollcastApp", "CSQLite"]),
        // The only code that talks to PostgreSQL (several nodes on one database), through libpq.
        .target(name: "PollcastPostgres", dependencies: ["PollcastCore", "PollcastApp", "CLibPQ"]),
        // The only code that imports libwebsockets.
        .target(
            name: "PollcastServer",
            dependencies: [
                "PollcastCore", "PollcastApp", "PollcastStore", "PollcastPostgres", "CLibWebSockets", "CQRencode",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "pollcast",
            dependencies: [
                "PollcastServer", "PollcastApp", "PollcastStore", "PollcastCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PollcastCoreTests", dependencies: ["PollcastCore"]),
        .testTarget(name: "PollcastStoreTests", dependencies: ["PollcastStore", "PollcastApp", "PollcastCore"]),
        .testTarget(
            name: "PollcastServerTests",
            dependencies: ["PollcastServer", "PollcastApp", "PollcastStore", "PollcastPostgres", "PollcastCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
