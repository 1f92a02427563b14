import Benchmark
import DecodeWorkload

// One iteration decodes the whole binlog (DST_BENCH_BINLOG, read into memory in setup)
// with EventDecoder + TransactionAssembler and looks at every column value.
// "row events/s" is changed rows (inserted, updated or deleted rows) per second of
// wall time on one thread; mallocCountTotal is per iteration, i.e. per file.
nonisolated(unsafe) var image: BinlogImage?
nonisolated(unsafe) var reportedError = false

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident, .instructions,
                  .custom("row events/s", polarity: .prefersLarger, useScalingFactor: false)],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 10
    )

    Benchmark("decode every event and value",
              closure: { benchmark in
                  guard let image else { return }
                  let clock = ContinuousClock()
                  benchmark.startMeasurement()
                  let start = clock.now
                  let tally = decodeAll(image)
                  let elapsed = clock.now - start
                  benchmark.stopMeasurement()
                  blackHole(tally)
                  if let error = tally.error, !reportedError {
                      reportedError = true
                      print("note: decoding stopped early: \(error)")
                  }
                  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                  benchmark.measurement(.custom("row events/s", polarity: .prefersLarger, useScalingFactor: false),
                                        Int(Double(tally.rowChanges) / max(seconds, 1e-9)))
              },
              setup: {
                  image = BinlogImage.fromEnvironment()
              })
}
