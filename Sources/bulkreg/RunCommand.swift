import ArgumentParser
import BulkReg
import Logging
import Pacing
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Drain the queue: register every queued lead at the vendor's rate limit.",
        discussion: """
            Resumes whatever a previous run left, including a run killed with kill -9: calls that may \
            have reached the vendor are checked with `registrants` before being sent again. Leads imported \
            while it goes on are picked up. SIGINT/SIGTERM stop cleanly (a second SIGINT stops at once, still safely).

            Example: WEBINARJAM_API_KEY=... bulkreg run --workers 40
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var api: APIOptions

    @Option(
        name: .long,
        help:
            "Most calls in flight (default: as many as the latency needs to hold --rate, up to rate × --request-timeout)."
    )
    var workers: Int?

    @Option(
        name: .long,
        help: "Call starts per second, across all workers (0 = no limit; for benchmarks against the simulator)."
    )
    var rate: Int = 20

    @Option(name: .long, help: "Attempts per lead on transient errors (5xx, timeouts) before it fails.")
    var maxAttempts: Int = 6

    @Option(
        name: .long,
        help:
            "Milliseconds added to the 1-second window against network jitter (throughput = rate / (1 s + margin)). Raise it if the vendor answers 429 on an unshared key."
    )
    var rateMarginMs: Int = 10

    @Option(
        name: .long,
        help:
            "Seconds: when only checks of uncertain jobs are left and the vendor keeps failing them this long, the run ends (exit 3); the next run checks them first."
    )
    var checkPatience: Double = 600

    @Option(
        name: .long,
        help:
            "Seconds: the least time after a possibly-sent call before the vendor's registrants are believed (the settle time is max(2 × --request-timeout, 3 × p99 latency, this))."
    )
    var settleMinimum: Double = 60

    @Flag(name: .long, help: "No progress line; only the final summary.")
    var quiet = false

    func validate() throws {
        if let workers, !(1...1024).contains(workers) { throw ValidationError("--workers must be between 1 and 1024") }
        if rate < 0 || rate > 10_000 { throw ValidationError("--rate must be between 0 and 10000") }
        if maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if !(0...500).contains(rateMarginMs) { throw ValidationError("--rate-margin-ms must be between 0 and 500") }
        if !(checkPatience >= 1) { throw ValidationError("--check-patience must be at least 1 second") }
        if !(settleMinimum >= 0) { throw ValidationError("--settle-minimum must not be negative") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(verbose: api.verbose)
        let path = database.path
        let key = try api.apiKey()
        // The lock first: a refused second runner must not even open a connection.
        let lock = try RunLock(databasePath: path)
        defer { withExtendedLifetime(lock) {} }
        // Another writer (an import of millions of rows) is waited for, not fatal.
        let store = try JobStore(path: path, waitsForWriters: true)
        var configuration = RunConfiguration(
            workers: workers,
            rate: rate,
            maxAttempts: maxAttempts,
            requestTimeout: .seconds(api.requestTimeout)
        )
        configuration.margin = .milliseconds(rateMarginMs)
        configuration.checkPatience = .seconds(checkPatience)
        configuration.settleMinimum = .seconds(settleMinimum)
        let client = try api.makeClient(apiKey: key, maxConnections: configuration.maxInFlight)
        // The key's budget, shared with every bulkreg process using it (KeyBudget).
        let joined = KeyBudget.join(
            apiKey: key,
            rate: rate,
            margin: configuration.margin,
            label: KeyBudget.label(forDatabase: path)
        )
        if let warning = joined.warning { StandardError.write(warning + "\n") }
        let session = RunSession(
            client: client,
            store: store,
            configuration: configuration,
            quiet: quiet,
            logger: api.logger("bulkreg"),
            runLogger: api.logger("bulkreg.run"),
            shared: joined.budget.map { SharedStarts(budget: $0) }
        )
        let sharing = Task {
            await BudgetWatch.run(joined.budget, progress: session.progress, logger: api.logger("bulkreg.budget"))
        }
        defer { sharing.cancel() }
        let ending = try await session.drive()
        let counts = ending.counts
        switch ending.outcome {
        case .failure(let error)?:
            throw error
        case .success(.stopped)?, nil:
            // 130/143 only after a signal; otherwise the counts below say what is left and why.
            if let signal = ending.signal { throw ExitCode(signal == .sigterm ? 143 : 130) }
            fallthrough
        case .success(.drained)?, .success(.checksPending)?:
            var incomplete = false
            if let queued = counts[.queued], queued > 0 {
                StandardError.write(
                    "\(queued) lead\(queued == 1 ? " was" : "s were") queued as the run ended (imported at that moment): "
                        + "run `bulkreg run` again to register \(queued == 1 ? "it" : "them").\n"
                )
                incomplete = true
            }
            if let uncertain = counts[.uncertain], uncertain > 0 {
                StandardError.write(
                    "\(uncertain) lead\(uncertain == 1 ? "" : "s") could not be checked yet (uncertain: the last call may have "
                        + "registered them); the next `bulkreg run` checks them first. `bulkreg status` says why.\n"
                )
                incomplete = true
            }
            if (counts[.failed] ?? 0) > 0 {
                StandardError.write(
                    "some leads failed permanently: see `bulkreg export - --state failed`, then `bulkreg retry`\n"
                )
                incomplete = true
            }
            if incomplete { throw ExitCode(3) }
        }
    }
}

enum RunSummary {
    static func render(snapshot: RunProgress.Snapshot, counts: [JobState: Int]) -> String {
        var parts = ["run: \(snapshot.done) registered", "\(snapshot.failed) failed"]
        if snapshot.verified > 0 { parts.append("\(snapshot.verified) found already registered via registrants") }
        if snapshot.undecided > 0 {
            parts.append("\(snapshot.undecided) left uncertain (the vendor's rows could not settle them)")
        }
        if snapshot.pickedUp > 0 { parts.append("\(snapshot.pickedUp) imported during the run and picked up") }
        parts.append("\(snapshot.retries) retries")
        parts.append("\(snapshot.rateLimited) × 429")
        let left = JobState.open(in: counts)
        return parts.joined(separator: ", ")
            + "\ndatabase: \(counts[.done] ?? 0) done, \(counts[.failed] ?? 0) failed, \(left) left in the queue, "
            + "\(counts[.cancelled] ?? 0) cancelled, \(counts[.rejected] ?? 0) rejected and \(counts[.duplicate] ?? 0) "
            + "duplicate rows at import"
    }
}

/// One live line on a terminal, a plain line every 10 s otherwise.
final class ProgressReporter: Sendable {
    let progress: RunProgress
    let quiet: Bool
    let tty = isatty(2) != 0

    init(progress: RunProgress, quiet: Bool) {
        self.progress = progress
        self.quiet = quiet
    }

    func run() async {
        guard !quiet else { return }
        let clock = ContinuousClock()
        let start = clock.now
        var samples: [(ContinuousClock.Instant, Int)] = [(start, 0)]
        // A terminal's line is redrawn every second; a log gets a line every 10 s, and one at
        // once when the API becomes unreachable or reachable again.
        var lastLine = start
        var wasUnreachable = false
        while !Task.isCancelled {
            do { try await clock.sleep(for: .seconds(1)) } catch { break }
            let s = progress.snapshot
            let now = clock.now
            let changed = (s.unreachable != nil) != wasUnreachable
            wasUnreachable = s.unreachable != nil
            if !tty && !changed && now - lastLine < .seconds(10) { continue }
            lastLine = now
            samples.append((now, s.calls))
            // Rate over the last 10 s: keep the newest sample at least that old as the base.
            while samples.count > 2, now - samples[1].0 >= .seconds(10) { samples.removeFirst() }
            let first = samples.first!
            let span = (now - first.0).seconds
            let rate = span > 0 ? Double(s.calls - first.1) / span : 0
            let line = ProgressLine.render(
                s,
                rate: rate,
                wall: Clocks.system.wall(),
                reachableAgain: changed && s.unreachable == nil,
                width: tty ? Terminal.columns() : nil
            )
            if tty {
                StandardError.write("\r\u{1B}[K" + line)
            } else {
                StandardError.write(line + "\n")
            }
        }
    }

    func finish() {
        if tty && !quiet { StandardError.write("\r\u{1B}[K") }
    }

    static func format(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }
}
