import ArgumentParser
import Distributary
import Foundation
import Routing
#if canImport(Glibc)
import Glibc
#endif

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare every mapped row's expected Redis entry and index document with what the stores hold (exit 0 iff all match).",
        discussion: """
            Reads each table in key order in chunks, routes every row as an insert and reads the entries back \
            (Redis pipelined, the index from a read-only snapshot); keys of a table's key pattern and index \
            documents that no row produced are extra. Entries that differ at first sight are read again once the \
            sink's checkpoint has passed the source's position (waiting up to --wait seconds), so rows changed \
            while verify runs are not reported. Read-only: it runs beside `distributary run`. \
            Exit status: 0 every entry matches, 1 differences found, 2 verify could not run (source or store \
            unreachable, bad configuration).
            """)

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("table"), help: "Only this table (db.table, or a pattern such as shop.*); repeat for several. Default: every mapped table.")
    var tables: [String] = []
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Option(help: "Seconds to wait for a sink to pass the source position of entries that changed during the run.")
    var wait: Double = 30
    @Option(help: "Rows per source read and per pipelined Redis read.")
    var chunkRows: Int = 5000
    @Option(help: "Seconds between progress lines (rows checked, rows/s) on standard error.")
    var progressEvery: Double = 5

    func run() throws {
        let config: PipelineConfig
        do {
            config = try options.load()
        } catch {
            Self.fail("\(error)")
        }
        var verifyOptions = VerifyOptions()
        verifyOptions.tables = tables
        verifyOptions.waitSeconds = max(0, wait)
        verifyOptions.chunkRows = max(1, chunkRows)
        verifyOptions.progressSeconds = max(0.1, progressEvery)
        let verifier = Verifier(config: config, options: verifyOptions) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        let report: VerifyReport
        do {
            report = try verifier.run()
        } catch {
            Self.fail("\(error)")
        }
        print(json ? report.json : report.text)
        if !report.matches { throw ExitCode(1) }
    }

    /// Verify could not run: the message on standard error, exit status 2.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("distributary verify: \(message)\n".utf8))
        Glibc.exit(2)
    }
}
