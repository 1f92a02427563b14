// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Distributary",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "distributary", targets: ["distributary"]),
        .library(name: "Distributary", targets: ["Distributary"]),
        .library(name: "BinlogCore", targets: ["BinlogCore"]),
        // For Benchmarks/ (redis-apply).
        .library(name: "Routing", targets: ["Routing"]),
        .library(name: "RedisSink", targets: ["RedisSink"]),
        // For Benchmarks/ (index-bench).
        .library(name: "SearchIndex", targets: ["SearchIndex"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // C libraries: module map + shim.h only.
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Pure modules.
        // Our own C: CRC-32 with PCLMULQDQ (the one thing Swift cannot express well).
        .target(name: "CBinlogAccel"),
        .target(name: "BinlogCore", dependencies: ["CZstd", "CBinlogAccel"]),
        .target(name: "Routing", dependencies: ["BinlogCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "SearchIndex", dependencies: ["CZstd"]),

        // I/O modules: every C pointer lives in exactly one of these.
        .target(name: "MySQLSource", dependencies: [
            "CMariaDB", "BinlogCore",
        ]),
        .target(name: "RedisSink", dependencies: [
            "CHiredis", "Routing",
        ]),

        .target(name: "Distributary", dependencies: [
            "BinlogCore", "Routing", "SearchIndex", "MySQLSource", "RedisSink",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "distributary", dependencies: [
            "Distributary", "BinlogCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "BinlogCoreTests", dependencies: ["BinlogCore"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "BinlogCore"]),
        .testTarget(name: "SearchIndexTests", dependencies: ["SearchIndex"]),
        .testTarget(name: "DistributaryTests", dependencies: [
            "Distributary", "MySQLSource", "RedisSink", "Routing", "BinlogCore",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)
