import Foundation
import Logging
import ServiceLifecycle

/// Runs a `Pipeline` as a service: graceful shutdown (SIGTERM/SIGINT) stops the
/// reader, applies every complete transaction already read, checkpoints, and returns.
/// A store that does not answer must not hold the process forever: if the stop takes
/// longer than `shutdownSeconds`, the process exits 1 (the checkpoints stay where the
/// last applied batch left them; a restart resumes from there).
public struct PipelineService: Service {
    let pipeline: Pipeline
    let logger: Logger
    public static let shutdownSeconds = 30

    public init(pipeline: Pipeline, logger: Logger) {
        self.pipeline = pipeline
        self.logger = logger
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            pipeline.requestStop()
            let logger = self.logger
            let watchdog = Thread {
                sleep(UInt32(Self.shutdownSeconds))
                logger.error("did not stop within \(Self.shutdownSeconds) s (a store does not answer); exiting. The checkpoints stay where the last applied batch left them, and a restart resumes from there")
                exit(1)
            }
            watchdog.name = "shutdown-watchdog"
            watchdog.start()
        }
    }
}
