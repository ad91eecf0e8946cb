import ServiceLifecycle

/// The runner as a swift-service-lifecycle `Service`: a graceful shutdown (SIGINT/SIGTERM
/// through a `ServiceGroup`) stops claiming, lets the calls in flight finish and commit, and
/// then `run()` returns.
package final class RunnerService<C: Clock>: Service, Sendable where C.Duration == Duration {
    package let runner: Runner<C>
    private let result = AsyncResultBox()

    package init(runner: Runner<C>) {
        self.runner = runner
    }

    package func run() async throws {
        let runner = self.runner
        do {
            let outcome = try await withGracefulShutdownHandler {
                try await runner.run()
            } onGracefulShutdown: {
                runner.requestStop()
            }
            await result.set(.success(outcome))
        } catch {
            await result.set(.failure(error))
        }
    }

    /// How the run ended (after `run()` returned).
    package func outcome() async -> Result<RunOutcome, any Error>? {
        await result.value
    }
}

actor AsyncResultBox {
    var value: Result<RunOutcome, any Error>?
    func set(_ v: Result<RunOutcome, any Error>) { value = v }
}
