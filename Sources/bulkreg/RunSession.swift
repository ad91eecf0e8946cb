import BulkReg
import Logging
import Pacing
import ServiceLifecycle
import Synchronization
import UnixSignals
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one place the command line builds an HTTP client; a bad base URL is a usage error.
func makeHTTPClient(
    baseURL: String,
    apiKey: String,
    connectTimeout: Duration,
    requestTimeout: Duration,
    maxConnections: Int = 64,
    logger: Logger = Logger(label: "bulkreg.api")
) throws -> HTTPWebinarAPI {
    do {
        return try HTTPWebinarAPI(
            baseURL: baseURL,
            apiKey: apiKey,
            connectTimeout: connectTimeout,
            requestTimeout: requestTimeout,
            maxConnections: maxConnections,
            logger: logger
        )
    } catch {
        throw BulkRegError(.usage, "--api-base: \(error)")
    }
}

extension APIOptions {
    /// A client with these options' base URL and timeouts.
    func makeClient(apiKey: String, maxConnections: Int = 64) throws -> HTTPWebinarAPI {
        try makeHTTPClient(
            baseURL: baseURL,
            apiKey: apiKey,
            connectTimeout: .seconds(connectTimeout),
            requestTimeout: .seconds(requestTimeout),
            maxConnections: maxConnections,
            logger: logger("bulkreg.api")
        )
    }
}

/// What `run` and `demo` share: a runner on the system clocks under a service group (SIGINT
/// and SIGTERM stop it gracefully, a second interrupt at once), the progress line, the client
/// shut down after, and the summary printed.
struct RunSession {
    /// How a drive ended.
    struct Ending {
        var outcome: Result<RunOutcome, any Error>?
        /// The first stop signal, if one came.
        var signal: UnixSignal?
        var counts: [JobState: Int]
    }

    let client: HTTPWebinarAPI
    let store: JobStore
    let configuration: RunConfiguration
    var quiet = false
    var logger = Logger(label: "bulkreg")
    var runLogger = Logger(label: "bulkreg.run")
    var shared: SharedStarts<ContinuousClock>?
    let progress = RunProgress()

    func drive() async throws -> Ending {
        let runner = Runner(
            api: client,
            store: store,
            clocks: .system,
            configuration: configuration,
            progress: progress,
            logger: runLogger,
            shared: shared
        )
        let service = RunnerService(runner: runner)
        let firstSignal = Mutex<UnixSignal?>(nil)
        let watcher = Task {
            var interrupts = 0
            for await signal in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                firstSignal.withLock { if $0 == nil { $0 = signal } }
                if signal == .sigint { interrupts += 1 }
                if interrupts >= 2 {
                    // Still safe: every state change is committed, and calls in flight are
                    // verified with `registrants` on the next run.
                    StandardError.write("\nbulkreg: second interrupt: stopping now; run again to finish.\n")
                    _exit(130)
                }
                StandardError.write(
                    "\nbulkreg: stopping: finishing the calls in flight (interrupt again to stop at once)\n"
                )
            }
        }
        let reporter = ProgressReporter(progress: progress, quiet: quiet)
        let reporting = Task { await reporter.run() }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: service,
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    )
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        reporting.cancel()
        await reporting.value
        watcher.cancel()
        try? await client.shutdown()
        reporter.finish()
        let outcome = await service.outcome()
        let counts = try await store.counts()
        print(RunSummary.render(snapshot: progress.snapshot, counts: counts))
        return Ending(outcome: outcome, signal: firstSignal.withLock { $0 }, counts: counts)
    }
}
