// swift-tools-version:6.0
// libFuzzer target for the binlog decoder (BinlogCore): arbitrary bytes go through
// EventDecoder and TransactionAssembler as a stream of events; a thrown BinlogError is
// the expected answer to bad input, any crash, trap, hang or sanitizer report is a bug.
//
//   scripts/fuzz.sh [SECONDS]      # builds, seeds a corpus from ../shared, runs, reports
//
// Built by hand (from Fuzz/):
//   swift build -c release --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// Swift 6.3 on Linux needs both spellings: without --sanitize=fuzzer SwiftPM renames the
// executable's main to BinlogFuzz_main and the link fails; without -Xswiftc
// -sanitize=fuzzer the Swift code carries no coverage counters.
//
// Needs the root package to export BinlogCore as a library product:
//   .library(name: "BinlogCore", targets: ["BinlogCore"]),
import PackageDescription

import struct Foundation.URL

// A path dependency's identity is its directory's name: derive it, so any clone works.
let rootIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "DistributaryFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "../")],
    targets: [
        .executableTarget(name: "BinlogFuzz", dependencies: [.product(name: "BinlogCore", package: rootIdentity)]),
    ]
)
