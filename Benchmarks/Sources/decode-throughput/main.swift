import DecodeWorkload

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Decodes the whole binlog (DST_BENCH_BINLOG) in memory ROUNDS times (default 3; argument 1)
// on one thread and prints the best and median row events/s. Argument 2 says how each
// value is looked at: `decoded` (default: the decoded form every consumer gets) or
// `materialized` (a ColumnValue with its String per value, as `row[i]` makes it).
let rounds = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 3) : 3
let access = CommandLine.arguments.count > 2 ? ValueAccess(rawValue: CommandLine.arguments[2]) ?? .decoded : .decoded
let image = BinlogImage.fromEnvironment()
print("file \(image.path): \(image.bytes.count) bytes, values \(access.rawValue)")
var seconds: [Double] = []
var tally = DecodeTally()
let clock = ContinuousClock()
for round in 1...rounds {
    let start = clock.now
    tally = decodeAll(image, access: access)
    let elapsed = clock.now - start
    let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    seconds.append(s)
    print("round \(round): \(String(format3(s))) s  \(Int(Double(tally.rowChanges) / s)) row events/s")
}
if let error = tally.error { print("stopped early: \(error)") }
seconds.sort()
let best = seconds[0], median = seconds[seconds.count / 2]
print("events \(tally.events)  ROWS events \(tally.rowsEvents)  row events \(tally.rowChanges)  values \(tally.values)  transactions \(tally.transactions)  digest \(tally.digest)")
print("best \(format3(best)) s = \(Int(Double(tally.rowChanges) / best)) row events/s, \(Int(Double(tally.values) / best)) values/s, \(format3(Double(image.bytes.count) / best / 1_048_576)) MiB/s")
print("median \(format3(median)) s = \(Int(Double(tally.rowChanges) / median)) row events/s")

func format3(_ v: Double) -> String {
    let scaled = (v * 1000).rounded() / 1000
    return "\(scaled)"
}
