// swift-tools-version:6.1
// Benchmarks of the pure binlog decoder (BinlogCore), as a package of their own so the
// main package does not depend on the benchmark framework.
//
//   cd Benchmarks && swift package benchmark                  # ordo-one benchmark: throughput + mallocs
//   cd Benchmarks && swift run -c release decode-throughput   # plain numbers (and the target to profile)
//
// The binlog comes from DST_BENCH_BINLOG (make a >1M-row one with
// integration/bench/make-package-binlog.sh), else the largest file of
// ../../shared/testdata/binlogs.
//
// Needs the root package to export BinlogCore as a library product:
//   .library(name: "BinlogCore", targets: ["BinlogCore"]),
import PackageDescription

import struct Foundation.URL

// A path dependency's identity is its directory's name (`main` in a checkout named so):
// derive it instead of hard-coding it, so any clone directory works.
let rootIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "DistributaryBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: "../"),
        // Linux + Swift 6.3: only the MallocInterposer trait; the default RuntimeInterposer
        // trait pulls in a package that is not available here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Reads a binlog into memory and decodes every event and value of it.
        .target(name: "DecodeWorkload", dependencies: [.product(name: "BinlogCore", package: rootIdentity)]),
        .executableTarget(
            name: "BinlogDecode",
            dependencies: ["DecodeWorkload", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/BinlogDecode",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The same workload without the framework: prints row events/s; the binary to run
        // under callgrind or perf.
        .executableTarget(name: "decode-throughput", dependencies: ["DecodeWorkload"]),
        // Routes pre-decoded transactions and applies them to a local Redis through
        // RedisSink (integration/bench/redis-apply.sh makes the binlog and runs it).
        .executableTarget(name: "redis-apply", dependencies: [
            .product(name: "BinlogCore", package: rootIdentity),
            .product(name: "Routing", package: rootIdentity),
            .product(name: "RedisSink", package: rootIdentity),
        ]),
        // Indexes a JSONL corpus with SearchIndex and times queries on it
        // (integration/bench/index-vs-tantivy.sh runs it next to tantivy).
        .executableTarget(name: "index-bench", dependencies: [
            .product(name: "SearchIndex", package: rootIdentity),
        ]),
    ]
)
