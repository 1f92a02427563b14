import Logging
import ServiceLifecycle

/// Runs a `Pipeline` as a service: graceful shutdown (SIGTERM/SIGINT) stops the
/// reader, applies every complete transaction already read, checkpoints, and returns.
public struct PipelineService: Service {
    let pipeline: Pipeline

    public init(pipeline: Pipeline) {
        self.pipeline = pipeline
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            pipeline.requestStop()
        }
    }
}
