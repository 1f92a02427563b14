import Foundation
import Logging
import ServiceLifecycle

/// Runs a `Pipeline` as a service: graceful shutdown (SIGTERM/SIGINT) stops the
/// reader, applies every complete transaction already read, checkpoints, and returns.
/// A store that does not answer must not hold the process forever: if the stop takes
/// longer than `shutdownSeconds` (config `shutdown_timeout`), the process exits 1 (the checkpoints stay where the
/// last applied batch left them; a restart resumes from there).
public struct PipelineService: Service {
    let pipeline: Pipeline
    let logger: Logger
    let shutdownSeconds: Double

    public init(pipeline: Pipeline, logger: Logger, shutdownSeconds: Double = 30) {
        self.pipeline = pipeline
        self.logger = logger
        self.shutdownSeconds = shutdownSeconds
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            pipeline.requestStop()
            let logger = self.logger, seconds = self.shutdownSeconds
            let watchdog = Thread {
                usleep(UInt32(seconds * 1_000_000))
                logger.error("did not stop within \(seconds) s (shutdown_timeout; a store does not answer); exiting. The checkpoints stay where the last applied batch left them, and a restart resumes from there")
                exit(1)
            }
            watchdog.name = "shutdown-watchdog"
            watchdog.start()
        }
    }
}
