// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bulkreg",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bulkreg", targets: ["bulkreg"]),
        .library(name: "WebinarSim", targets: ["WebinarSim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        // Already built for async-http-client; named so the client matches its transport
        // errors by type (NIOConnectionError, NIOSSLError).
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    ],
    targets: [
        // SQLite through the system library; only the SQLite module imports it.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        // Streaming CSV reader and writer; no dependencies.
        .target(name: "CSV"),
        // Rate limiter, backoff, shared budget, the clocks pair; no dependencies.
        .target(name: "Pacing"),
        // Test support for Pacing's users: the manual clock (as NIOEmbedded is for NIO).
        .target(name: "PacingTesting", dependencies: ["Pacing"]),
        // The vendor API contract and its HTTP client.
        .target(
            name: "WebinarAPI",
            dependencies: [.asyncHTTPClient, .logging, .nioPosix, .nioSSL]
        ),
        // The vendor API simulator (independent of the client, so it tests it honestly).
        .target(
            name: "WebinarSim",
            dependencies: ["Pacing", .hummingbird, .logging]
        ),
        // The pipeline: import, store, runner, export, call history and report.
        .target(
            name: "BulkReg",
            dependencies: ["SQLite", "CSV", "Pacing", "WebinarAPI", .crypto, .logging, .mustache, .serviceLifecycle]
        ),
        .executableTarget(
            name: "bulkreg",
            dependencies: [
                "BulkReg", "CSV", "Pacing", "WebinarAPI", "WebinarSim",
                .argumentParser, .logging, .serviceLifecycle, .unixSignals,
            ]
        ),
        // What the test targets share: temporary directories, fixtures, reading a CSV back.
        .target(name: "TestSupport", dependencies: ["CSV"]),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite"]),
        .testTarget(name: "CSVTests", dependencies: ["CSV"]),
        .testTarget(name: "PacingTests", dependencies: ["Pacing", "PacingTesting"]),
        .testTarget(name: "WebinarAPITests", dependencies: ["WebinarAPI", "WebinarSim", "Pacing", "PacingTesting"]),
        .testTarget(
            name: "WebinarSimTests",
            dependencies: ["WebinarSim", "Pacing", "PacingTesting", .asyncHTTPClient]
        ),
        .testTarget(
            name: "BulkRegTests",
            dependencies: [
                "BulkReg", "CSV", "Pacing", "PacingTesting", "SQLite", "TestSupport", "WebinarAPI", "WebinarSim",
            ]
        ),
        // The command line parsed in process (the executable target, @testable).
        .testTarget(name: "CLITests", dependencies: ["bulkreg", "BulkReg", "WebinarSim"]),
        .testTarget(name: "EndToEndTests", dependencies: ["BulkReg", "SQLite", "TestSupport", "WebinarSim"]),
    ]
)

// The products the targets use, each named once.
extension Target.Dependency {
    static var argumentParser: Self { .product(name: "ArgumentParser", package: "swift-argument-parser") }
    static var asyncHTTPClient: Self { .product(name: "AsyncHTTPClient", package: "async-http-client") }
    static var crypto: Self { .product(name: "Crypto", package: "swift-crypto") }
    static var hummingbird: Self { .product(name: "Hummingbird", package: "hummingbird") }
    static var logging: Self { .product(name: "Logging", package: "swift-log") }
    static var mustache: Self { .product(name: "Mustache", package: "swift-mustache") }
    static var nioPosix: Self { .product(name: "NIOPosix", package: "swift-nio") }
    static var nioSSL: Self { .product(name: "NIOSSL", package: "swift-nio-ssl") }
    static var serviceLifecycle: Self { .product(name: "ServiceLifecycle", package: "swift-service-lifecycle") }
    static var unixSignals: Self { .product(name: "UnixSignals", package: "swift-service-lifecycle") }
}
