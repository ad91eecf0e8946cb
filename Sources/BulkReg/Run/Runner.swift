import Logging
import Pacing
import Synchronization
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Drains the queue: FIFO workers sharing one limiter, every state change committed before
/// it counts, every call that may have reached the vendor checked before it is repeated.
///
/// The runner decides nothing itself: each answer goes through `OutcomePolicy` (what the call
/// was, what the answer proves, the job's history → one action) and `RunHealth` (trouble
/// across many calls → a run-wide pause); the runner executes the action, and hands the job
/// back to the scheduler exactly once (`Disposition`).
package final class Runner<C: Clock>: Sendable where C.Duration == Duration {
    let api: any WebinarAPI
    let store: JobStore
    let clock: C
    let configuration: RunConfiguration
    let progress: RunProgress
    let logger: Logger
    let wallClock: @Sendable () -> Double
    let scheduler: Scheduler<C>
    let gate: CallGate<C>
    let inFlight: ConcurrencyGate
    let targets = TargetChecks()
    let passes: RegistrantsPasses<C>
    let random: LockedRandom
    private let health = Mutex(RunHealth())
    private let pause = Mutex<RunHealth.Pause?>(nil)
    /// Per job, in this run: the words of its last error answers (the 3-repeats rule).
    private let histories = Mutex<[Int: CallHistory]>([:])
    /// Per uncertain job: failed checks in a row; and since when checks keep failing.
    private let checkFailures = Mutex<[Int: Int]>([:])
    private let checkTroubleSince = Mutex<C.Instant?>(nil)
    private let stopState = Mutex<(stopping: Bool, failure: BulkRegError?, checksPending: Bool)>((false, nil, false))

    package init(
        api: any WebinarAPI,
        store: JobStore,
        clocks: Clocks<C>,
        configuration: RunConfiguration,
        progress: RunProgress = RunProgress(),
        logger: Logger = Logger(label: "bulkreg.run"),
        shared: SharedStarts<C>? = nil
    ) {
        self.api = api
        self.store = store
        let clock = clocks.monotonic
        self.clock = clock
        self.configuration = configuration
        self.progress = progress
        self.logger = logger
        self.wallClock = clocks.wall
        let limiter = RateLimiter(
            clock: clock,
            configuration: RateLimiterConfiguration(
                rate: configuration.rate > 0 ? configuration.rate : nil,
                margin: configuration.margin
            ),
            random: SplitMix64(seed: configuration.seed ^ 0x5DEE_CE66),
            shared: shared
        )
        self.gate = CallGate(
            limiter: limiter,
            clock: clock,
            sendLead: configuration.sendLead,
            margin: configuration.margin,
            sendObserver: api as? any SendObserving
        )
        self.inFlight = ConcurrencyGate(
            limit: InFlightTarget.target(rate: configuration.rate, p95: nil, cap: configuration.maxInFlight)
        )
        self.passes = RegistrantsPasses(clock: clock)
        self.random = LockedRandom(seed: configuration.seed)
        self.scheduler = Scheduler(clock: clock) { after, limit in
            try await store.queuedPage(after: after, limit: limit)
        }
    }

    /// Stops claiming jobs; calls in flight finish and are committed.
    package func requestStop() {
        stopState.withLock { $0.stopping = true }
        Task { await scheduler.stop() }
    }

    /// The shared limiter's counters (starts, 429 pauses, effective rate).
    package var limiterStatistics: RateLimiter<C>.Statistics { gate.limiter.statistics }

    /// The most calls allowed in flight right now (follows the latency).
    package var inFlightLimit: Int { inFlight.limit }

    /// Calls that took a fresh slot because what came before the send ended after their slot.
    package var freshSlots: Int { gate.freshSlots }

    var isStopping: Bool { stopState.withLock { $0.stopping } }

    private func abort(_ error: BulkRegError) {
        stopState.withLock {
            if $0.failure == nil { $0.failure = error }
            $0.stopping = true
        }
        Task { await scheduler.stop() }
    }

    /// The settle time now: max(2 × request timeout, 3 × p99 latency, the minimum).
    var settleTime: Duration {
        SettleRule.settleTime(
            requestTimeout: configuration.requestTimeout,
            p99: gate.latency.quantile(0.99),
            minimum: configuration.settleMinimum
        )
    }

    /// Runs until the queue is drained or a stop is requested.
    ///
    /// - Throws: `BulkRegError(.auth)` when the key is refused (the jobs stay queued),
    ///   `.storage` when the database fails or another runner holds its lease.
    package func run() async throws -> RunOutcome {
        let now = wallClock()
        // Read before the first write: a damaged database is refused without being touched.
        _ = try await store.openJobs()
        _ = try await store.queuedPage(after: 0, limit: 64)
        _ = try await store.uncertainJobs()
        let owner = configuration.leaseOwner ?? (getpid(), LeaseProcess.hostName)
        await store.observeWaits { [progress, wallClock] waiting in
            let now = wallClock()
            progress.update { $0.databaseBusySince = waiting ? ($0.databaseBusySince ?? now) : nil }
        }
        let token = try await store.acquireLease(pid: owner.pid, host: owner.host, now: now)
        defer {
            let store = self.store
            Task { try? await store.releaseLease(token) }
        }
        let heartbeat = Task { await self.heartbeat(token) }
        defer { heartbeat.cancel() }

        _ = try await store.recoverInFlight(now: now)
        let figures = try await store.startFigures()
        let lastJobAtStart = figures.lastJob
        progress.update {
            $0.total = figures.open
            $0.doneBefore = figures.done
            $0.failedBefore = figures.failed
        }
        await scheduler.observePages { [progress] page in
            let new = page.reduce(0) { $0 + ($1.id > lastJobAtStart ? 1 : 0) }
            if new > 0 {
                progress.update {
                    $0.total += new
                    $0.pickedUp += new
                }
            }
        }
        await targets.load(try await store.checkedTargets())
        let uncertain = try await store.uncertainJobs()
        let settle = settleTime
        let clockNow = clock.now
        // Jobs a previous run left uncertain: checked a settle time after their send, clamped so
        // that a wall clock stepped back between runs delays a check by one settle time at most.
        await scheduler.addUncertain(uncertain) { job in
            clockNow.advanced(by: SettleRule.wait(sentAt: job.sentAt, now: now, settle: settle))
        }

        await withDiscardingTaskGroup { group in
            // The calls in flight (the gate) plus the checks, which wait for registrants passes
            // without holding a place of the calls (the scheduler hands out at most 32 at once).
            for _ in 0..<(configuration.maxInFlight + Self.checkWorkers) {
                group.addTask { await self.work() }
            }
        }
        heartbeat.cancel()
        try await store.flushHistory()
        try await store.releaseLease(token)
        let state = stopState.withLock { $0 }
        if let failure = state.failure { throw failure }
        if let error = await scheduler.loadError {
            throw error as? BulkRegError ?? BulkRegError(.storage, "\(error)")
        }
        let snapshot = progress.snapshot
        let left = try await store.counts()
        if JobState.open(in: left) == 0 { return .drained(snapshot) }
        if state.stopping && !state.checksPending { return .stopped(snapshot) }
        return .checksPending(snapshot)
    }

    /// Keeps the lease fresh. Real time, not the injected clock: liveness is a fact about this
    /// process, and a test's manual clock must not be moved by it.
    private func heartbeat(_ token: Int64) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.heartbeatEvery) } catch { return }
            guard !Task.isCancelled else { return }
            do {
                if try await !store.heartbeat(lease: token, now: wallClock()) {
                    abort(
                        BulkRegError(
                            .storage,
                            "another bulkreg took this database's runner lease: this run stops sending (nothing is sent twice)."
                        )
                    )
                    return
                }
            } catch {
                abort(error as? BulkRegError ?? BulkRegError(.storage, "\(error)"))
                return
            }
        }
    }

    // MARK: worker

    /// What happens to a job a worker was handed: executed in one place, exactly once.
    enum Disposition {
        case finished
        case later(Scheduler<C>.Work, readyAt: C.Instant)
        case unreachable(Scheduler<C>.Work, reason: String)
        case stop(String)
    }

    private func work() async {
        while await inFlight.enter() {
            guard let work = await scheduler.next() else {
                inFlight.leave()
                inFlight.close()
                return
            }
            // A check waits for a pass; its calls go through the limiter, not the gate.
            if work.isCheck { inFlight.leave() }
            let disposition: Disposition
            do {
                disposition = try await handle(work)
            } catch let error as BulkRegError {
                abort(error)
                disposition = .finished
            } catch is CancellationError {
                disposition = .finished
            } catch {
                abort(BulkRegError(.unexpected, "\(error)"))
                disposition = .finished
            }
            await execute(disposition, handedOut: work)
            if !work.isCheck { inFlight.leave() }
            inFlight.setLimit(
                InFlightTarget.target(
                    rate: configuration.rate,
                    p95: gate.latency.forPlanning,
                    cap: configuration.maxInFlight
                )
            )
        }
    }

    private func execute(_ disposition: Disposition, handedOut: Scheduler<C>.Work) async {
        switch disposition {
        case .finished:
            await scheduler.finished(handedOut)
        case .later(let next, let readyAt):
            await scheduler.later(next, readyAt: readyAt, handedOut: handedOut)
        case .unreachable(let next, let reason):
            let since = wallClock()
            let backoff = configuration.backoff
            let random = self.random
            let until = await scheduler.unreachable(next) { level in
                random.withGenerator { backoff.delay(forAttempt: min(level, 16), random: &$0) }
            }
            let wait = max(0, clock.now.duration(to: until).seconds)
            pause.withLock { $0 = .unreachable(reason) }
            progress.update {
                $0.unreachable = reason
                $0.pauseHeadline = RunHealth.Pause.unreachable(reason).message
                if $0.unreachableSince == nil { $0.unreachableSince = since }
                $0.nextProbeAt = self.wallClock() + wait
            }
        case .stop(let message):
            abort(BulkRegError(.auth, message))
            await scheduler.finished(handedOut)
        }
        if handedOut.isCheck || { if case .later(.verify, _) = disposition { return true } else { return false } }() {
            let waiting = await scheduler.waitingChecks
            let nowWall = wallClock()
            let next = waiting.next.map { nowWall + max(0, clock.now.duration(to: $0).seconds) }
            progress.update {
                $0.checksWaiting = waiting.count
                $0.nextCheckAt = next
            }
        }
    }

    private func handle(_ work: Scheduler<C>.Work) async throws -> Disposition {
        switch work {
        case .register(let job): return try await register(job)
        case .verify(let job, let confirming): return try await check(job, confirming: confirming, handedOut: work)
        }
    }

    // MARK: register

    private func register(_ claimed: Job) async throws -> Disposition {
        var job = claimed
        // Is the webinar/schedule/date real? Checked once per target per database.
        switch await targets.check(
            job.target,
            perform: { history in await self.checkTarget(claimed, history: history) }
        ) {
        case .ok:
            break
        case .missing(let message):
            guard
                try await store.commit(
                    .failed(
                        job: job.id,
                        attempts: job.attempts,
                        message: message,
                        at: wallClock(),
                        event: .targetMissing
                    )
                )
            else { return leftAlone(job) }
            progress.update { $0.failed += 1 }
            return .finished
        case .cancelled:
            return .finished
        case .later(let action):
            return try await postpone(.register(job), action: action, claimed: false)
        }
        guard !isStopping else { return .finished }

        // The intent to send is durable before the call starts: after a crash this job is
        // `in_flight`, and is checked with `registrants` before it is ever sent again. The
        // claim is guarded by the job's state and this run's lease, so no second runner can
        // ever send the same job.
        // Claimed: nil before the claim, false when the claim did not take effect.
        let claim = Mutex<Bool?>(nil)
        let (answer, sent) = try await send(
            prepare: {
                // A stop (SIGINT/SIGTERM) ends claiming at once.
                guard !self.isStopping else { return false }
                let took = try await self.store.commit(.sending(job: job.id, at: self.wallClock()))
                claim.withLock { $0 = took }
                return took
            },
            inFlight: true,
            call: { [request = job.request] in await self.api.register(request) }
        )
        guard let result = answer else {
            switch claim.withLock({ $0 }) {
            case false?:
                // Replaced by a corrected import or cancelled meanwhile: not this run's any more.
                return leftAlone(job)
            case true?:
                // Claimed, then the run stopped before the call's slot: nothing was sent.
                try await store.commit(.released(job: job.id, at: wallClock()))
            case nil:
                break
            }
            return .finished
        }
        progress.update { $0.inFlight -= 1 }
        let failure = result.failure
        if case .timedOut = failure { gate.record(latency: configuration.requestTimeout.seconds) }
        var history = histories.withLock { $0[job.id] } ?? CallHistory()
        history.attempts = job.attempts
        history.maxAttempts = configuration.maxAttempts
        let action = await judge(.register, job: job.id, sent: sent, failure: failure, history: history)
        let now = wallClock()
        switch action {
        case .proceed:
            guard case .success(let user) = result else { return .finished }
            guard
                try await store.commit(
                    .done(job: job.id, attempts: job.attempts + 1, user: user, source: .register, at: now)
                )
            else { return leftAlone(job) }
            progress.update { $0.done += 1 }
            histories.withLock { _ = $0.removeValue(forKey: job.id) }
            return .finished
        case .fail(let message):
            guard try await store.commit(.failed(job: job.id, attempts: job.attempts + 1, message: message, at: now))
            else { return leftAlone(job) }
            progress.update { $0.failed += 1 }
            histories.withLock { _ = $0.removeValue(forKey: job.id) }
            return .finished
        case .uncertain(let reason):
            job.attempts += 1
            job.lastError = reason
            guard
                try await store.commit(
                    .uncertain(job: job.id, attempts: job.attempts, sentAt: sent.wall, lastError: reason, at: now)
                )
            else { return leftAlone(job) }
            progress.update { $0.retries += 1 }
            let from = sent.instant ?? clock.now
            return .later(.verify(job, confirming: false), readyAt: from.advanced(by: settleTime))
        case .retry(_, _, let spends, _):
            if spends { job.attempts += 1 }
            histories.withLock { $0[job.id] = history.after(words: failure?.text) }
            return try await postpone(.register(job), action: action, claimed: true)
        case .rateLimited, .unreachable, .stop:
            return try await postpone(.register(job), action: action, claimed: true)
        }
    }

    /// A job whose guarded change did not take effect: cancelled, replaced by a corrected
    /// import, or settled by another command meanwhile (or the lease is gone). Not this run's
    /// any more: dropped, and never sent.
    private func leftAlone(_ job: Job) -> Disposition {
        progress.update { $0.total -= 1 }
        logger.info("job \(job.id): left alone: it changed outside this run (cancelled, corrected or settled)")
        return .finished
    }

    /// A job that goes back without being done: its state is committed (queued, with the
    /// reason; `claimed: false` when no call of it went out, and its state stays), then the
    /// disposition says when it comes back. A job that changed meanwhile (cancelled, corrected)
    /// is dropped instead.
    private func postpone(
        _ work: Scheduler<C>.Work,
        action: OutcomeAction,
        claimed: Bool
    ) async throws -> Disposition {
        let job = work.job
        // What the job's row says while it waits, and when it comes back.
        let reason: String?
        let next: Disposition
        var spendsRetry = false
        switch action {
        case .retry(let level, let minimum, let spends, let why):
            reason = why
            spendsRetry = spends
            let delay = max(
                minimum,
                random.withGenerator { configuration.backoff.delay(forAttempt: level, random: &$0) }
            )
            next = .later(work, readyAt: clock.now.advanced(by: delay))
        case .rateLimited:
            gate.limiter.rateLimited()
            let until = wallClock() + 1
            progress.update {
                $0.rateLimited += 1
                $0.rateLimitedUntil = max($0.rateLimitedUntil ?? 0, until)
            }
            reason = "429 Too many requests"
            next = .later(work, readyAt: clock.now)
        case .unreachable(let why):
            reason = why
            next = .unreachable(work, reason: why)
        case .stop(let message):
            reason = nil
            next = .stop(message)
        case .proceed, .fail, .uncertain:
            return .later(work, readyAt: clock.now)
        }
        if case .register = work {
            let took = try await store.commit(
                .requeued(job: job.id, attempts: job.attempts, lastError: reason, at: wallClock(), claimed: claimed)
            )
            guard took else {
                if case .stop = next { return next }
                return leftAlone(job)
            }
        }
        // Retries count attempts spent; a wait that spends none (the vendor busy) is not one.
        if spendsRetry { progress.update { $0.retries += 1 } }
        return next
    }

    // MARK: health

    /// Feeds an answer to the run's health: a pause for trouble that repeats across calls,
    /// the end of any pause on an answer that proves the API well.
    private func noteHealth(_ failure: APIFailure?) async {
        let verdict = health.withLock { $0.record(failure) }
        switch verdict {
        case .unchanged:
            break
        case .healthy:
            guard
                pause.withLock({ value -> Bool in
                    defer { value = nil }
                    return value != nil
                })
            else { return }
            progress.update {
                $0.unreachable = nil
                $0.pauseHeadline = nil
                $0.unreachableSince = nil
                $0.nextProbeAt = nil
            }
            await scheduler.reachable()
        case .pause(let kind):
            if case .unreachable = kind { return }  // the job's disposition pauses the run
            pause.withLock { $0 = kind }
            let since = wallClock()
            let backoff = configuration.backoff
            let random = self.random
            let until = await scheduler.pauseRun { level in
                random.withGenerator { backoff.delay(forAttempt: min(level, 16), random: &$0) }
            }
            let wait = max(0, clock.now.duration(to: until).seconds)
            logger.info("run paused: \(kind.message)")
            progress.update {
                $0.unreachable = kind.reason
                $0.pauseHeadline = kind.message
                if $0.unreachableSince == nil { $0.unreachableSince = since }
                $0.nextProbeAt = self.wallClock() + wait
            }
        }
    }

    /// A job's answered call: written to the history, counted for the run's health, judged by
    /// the policy with the job's history, and the decision logged.
    private func judge(
        _ kind: CallKind,
        job: Int,
        sent: (instant: C.Instant?, wall: Double),
        failure: APIFailure?,
        history: CallHistory
    ) async -> OutcomeAction {
        let attempt = history.attempts + 1
        await recordCall(kind.method, job: job, sent: sent, failure: failure, attempt: attempt)
        await noteHealth(failure)
        let action = OutcomePolicy.decide(kind, failure, history: history)
        log(kind, job: job, failure: failure, action: action, attempt: attempt)
        return action
    }

    private func log(_ kind: CallKind, job: Int, failure: APIFailure?, action: OutcomeAction, attempt: Int) {
        logger.debug(
            "decision",
            metadata: [
                "call": "\(kind.rawValue)", "job": "\(job)", "class": "\(Self.label(failure))",
                "action": "\(Self.label(action))", "attempt": "\(attempt)",
            ]
        )
    }

    static func label(_ failure: APIFailure?) -> String { CallOutcome(failure).label }

    /// The call's row in the history, written with the change it leads to.
    /// One call through the gate (nil when `prepare` declined it, by default once the run is
    /// stopping), counted in the progress, with when it left (monotonic and wall) for the
    /// history.
    private func send<T: Sendable>(
        prepare: (() async throws -> Bool)? = nil,
        inFlight: Bool = false,
        call: @escaping @Sendable () async -> Result<T, APIFailure>
    ) async throws -> (answer: Result<T, APIFailure>?, sent: (instant: C.Instant?, wall: Double)) {
        let sent = Mutex<(instant: C.Instant?, wall: Double)>((nil, 0))
        let answer = try await gate.call(
            prepare: { try await prepare?() ?? !self.isStopping },
            stillWanted: { !self.isStopping },
            send: { started in
                sent.withLock { $0 = (started, self.wallClock()) }
                self.progress.update {
                    $0.calls += 1
                    if inFlight { $0.inFlight += 1 }
                }
                return await call()
            }
        )
        return (answer, sent.withLock { $0 })
    }

    private func recordCall(
        _ method: CallMethod,
        job: Int?,
        sent: (instant: C.Instant?, wall: Double),
        failure: APIFailure?,
        attempt: Int?,
        reason: String? = nil
    ) async {
        await record(since: sent) {
            CallRecord(
                at: $0,
                latency: $1,
                job: job,
                method: method,
                failure: failure,
                attempt: attempt,
                reason: reason
            )
        }
    }

    /// Stores the record of a call (or a check's verdict) begun at `sent`: `make` gets its
    /// wall-clock start and its latency, measured now.
    private func record(
        since sent: (instant: C.Instant?, wall: Double),
        _ make: (_ at: Double, _ latency: Double) -> CallRecord
    ) async {
        let latency = sent.instant.map { $0.duration(to: clock.now).seconds } ?? 0
        await store.record(make(sent.wall, latency))
    }

    static func label(_ action: OutcomeAction) -> String {
        switch action {
        case .proceed: return "proceed"
        case .fail: return "fail"
        case .retry(let level, _, let spends, _): return "retry(level \(level)\(spends ? ", attempt spent" : ""))"
        case .rateLimited: return "rate-limited-pause"
        case .uncertain: return "uncertain"
        case .unreachable: return "outage-pause"
        case .stop: return "stop-run"
        }
    }

    // MARK: webinar check

    /// One `webinar` call for a target, judged by the policy with the target's history.
    private func checkTarget(_ job: Job, history: CallHistory) async -> (TargetChecks.Verdict, CallHistory) {
        let target = job.target
        guard
            let (answer, sent) = try? await send(call: {
                await self.api.webinar(
                    platform: target.platform,
                    webinarID: target.webinarID,
                    timezone: job.request.timezone
                )
            }), let answer
        else { return (.cancelled, history) }
        let failure = answer.failure
        let action = await judge(.webinarCheck, job: job.id, sent: sent, failure: failure, history: history)
        var next = history.after(words: failure?.text)
        switch action {
        case .proceed:
            guard case .success(let webinar) = answer else { return (.cancelled, history) }
            let message = TargetVerdict.judge(target, webinar: webinar)
            _ = try? await store.commit(.target(target, ok: message == nil, message: message, at: wallClock()))
            return (message.map { .missing($0) } ?? .ok, CallHistory())
        case .fail(let words):
            let message = "\(target): the webinar check failed: \(words)"
            _ = try? await store.commit(.target(target, ok: false, message: message, at: wallClock()))
            return (.missing(message), next)
        case .retry:
            next.attempts += 1
            return (.later(action), next)
        case .rateLimited, .unreachable, .stop, .uncertain:
            return (.later(action), next)
        }
    }

    // MARK: registrants check

    private func check(_ job: Job, confirming: Bool, handedOut: Scheduler<C>.Work) async throws -> Disposition {
        guard !isStopping else { return .finished }
        let key = RegistrantsPasses<C>.Key(
            platform: job.request.platform,
            webinarID: job.request.webinarID,
            schedule: job.request.schedule
        )
        let began = (instant: Optional(clock.now), wall: wallClock())
        let outcome = await passes.outcome(email: job.request.email, key: key, notBefore: clock.now) { wanted in
            await self.readRegistrants(key, wanted: wanted)
        }
        let now = wallClock()
        switch outcome {
        case .stopped:
            return .finished
        case .failed(let failure):
            let failures = checkFailures.withLock { counts -> Int in
                counts[job.id, default: 0] += 1
                return counts[job.id]!
            }
            let action = OutcomePolicy.decide(
                .registrantsCheck,
                failure,
                history: CallHistory(attempts: failures - 1, maxAttempts: configuration.maxAttempts)
            )
            log(.registrantsCheck, job: job.id, failure: failure, action: action, attempt: failures)
            await recordCall(
                .check,
                job: job.id,
                sent: began,
                failure: failure,
                attempt: failures,
                reason: "the registrants could not be read: \(failure.text)"
            )
            switch action {
            case .stop(let message): return .stop(message)
            case .unreachable(let reason): return .unreachable(handedOut, reason: "checking the registrants: \(reason)")
            default: break
            }
            let since = checkTroubleSince.withLock { value -> C.Instant in
                if value == nil { value = clock.now }
                return value!
            }
            if since.duration(to: clock.now) >= configuration.checkPatience, await scheduler.onlyChecksLeft {
                // Nothing else to do and the vendor still cannot answer: end the run; these jobs
                // stay uncertain and the next run checks them first.
                stopState.withLock {
                    $0.checksPending = true
                    $0.stopping = true
                }
                await scheduler.stop()
                return .finished
            }
            var delay = random.withGenerator { configuration.backoff.delay(forAttempt: failures, random: &$0) }
            delay = min(delay, .seconds(60))
            return .later(handedOut, readyAt: clock.now.advanced(by: delay))
        case .rows(let rows):
            checkFailures.withLock { _ = $0.removeValue(forKey: job.id) }
            checkTroubleSince.withLock { $0 = nil }
            let siblings: [Int]
            if job.request.platform == .everwebinar, !(job.request.date ?? "").isEmpty {
                siblings = try await store.siblings(of: job).filter { $0 != job.id }
            } else {
                siblings = []
            }
            let match = RegistrantMatch.decide(
                job.request,
                rows: rows[job.request.email.lowercased()] ?? [],
                siblings: siblings
            )
            logger.debug(
                "check",
                metadata: ["job": "\(job.id)", "match": "\(Self.label(match))", "confirming": "\(confirming)"]
            )
            await recordVerdict(match, job: job.id, began: began, confirming: confirming)
            switch match {
            case .found(let found):
                let user = RegisteredUser(registrant: found, webinarID: job.request.webinarID)
                guard
                    try await store.commit(
                        .done(job: job.id, attempts: job.attempts, user: user, source: .registrants, at: now)
                    )
                else { return leftAlone(job) }
                progress.update {
                    $0.done += 1
                    $0.verified += 1
                }
                return .finished
            case .ambiguous(let reason):
                guard try await store.noteUncertain(job: job.id, reason: reason, at: now) else { return leftAlone(job) }
                progress.update { $0.undecided += 1 }
                return .finished
            case .noURL:
                guard
                    try await store.noteUncertain(
                        job: job.id,
                        reason:
                            "the vendor lists this person without a live-room URL: registered, but its links are unknown",
                        at: now
                    )
                else { return leftAlone(job) }
                progress.update { $0.undecided += 1 }
                return .finished
            case .notFound:
                if !confirming {
                    // Believed only when a second check, a settle time later, agrees.
                    return .later(.verify(job, confirming: true), readyAt: clock.now.advanced(by: settleTime))
                }
                if job.attempts >= configuration.maxAttempts {
                    guard
                        try await store.commit(
                            .failed(
                                job: job.id,
                                attempts: job.attempts,
                                message: "gave up after \(job.attempts) attempts: \(job.lastError ?? "no answer") "
                                    + "(the vendor confirms the person is not registered)",
                                at: now,
                                event: .gaveUp
                            )
                        )
                    else { return leftAlone(job) }
                    progress.update { $0.failed += 1 }
                    return .finished
                }
                return .later(.register(job), readyAt: clock.now)
            }
        }
    }

    /// Workers for checks beyond the calls in flight (the scheduler's `maxActiveChecks`).
    static var checkWorkers: Int { 32 }

    /// Failed attempts at one page of a registrants pass before the pass fails.
    static var pageRetries: Int { 8 }

    private func recordVerdict(
        _ match: RegistrantMatch,
        job: Int,
        began: (instant: C.Instant?, wall: Double),
        confirming: Bool
    ) async {
        let (outcome, reason): (CallOutcome, String) = {
            switch match {
            case .found: return (.found, "registered at the vendor: links stored")
            case .ambiguous(let why): return (.ambiguous, why)
            case .noURL: return (.foundWithoutURL, "listed without a live-room URL")
            case .notFound:
                return (
                    .notFound,
                    confirming
                        ? "not registered (second look agrees)" : "not listed yet: looked again after the settle time"
                )
            }
        }()
        let attempt = confirming ? 2 : 1
        await record(since: began) {
            CallRecord(
                at: $0,
                latency: $1,
                job: job,
                method: .check,
                outcome: outcome,
                attempt: attempt,
                reason: reason
            )
        }
    }

    static func label(_ match: RegistrantMatch) -> String {
        switch match {
        case .found: return "found"
        case .notFound: return "not-found"
        case .ambiguous: return "ambiguous"
        case .noURL: return "found-without-url"
        }
    }

    /// Reads every page of a target's registrants (no page cap: `last_page`, `next_page_url`,
    /// or an empty page ends it), keeping only the rows of `wanted` emails. A single wanted
    /// email is first looked up with `search` (a found row proves the registration; a search
    /// the vendor may ignore or match differently never proves an absence).
    private func readRegistrants(
        _ key: RegistrantsPasses<C>.Key,
        wanted: Set<String>
    ) async
        -> RegistrantsPasses<C>.Outcome
    {
        // (Not for EverWebinar: a person's rows there may be other sessions', which a partial
        // read cannot tell from an absence.)
        if wanted.count == 1, key.platform == .webinarjam, let email = wanted.first {
            switch await readPages(key, wanted: wanted, search: email) {
            case .rows(let rows) where !(rows[email] ?? []).isEmpty:
                return .rows(rows)
            case .stopped:
                return .stopped
            default:
                break
            }
        }
        return await readPages(key, wanted: wanted, search: nil)
    }

    private func readPages(
        _ key: RegistrantsPasses<C>.Key,
        wanted: Set<String>,
        search: String?
    ) async
        -> RegistrantsPasses<C>.Outcome
    {
        var rows: [String: [Registrant]] = [:]
        var page = 1
        var pageFailures = 0
        var previous: [Registrant]?
        while true {
            let query = RegistrantsQuery(
                platform: key.platform,
                webinarID: key.webinarID,
                scheduleID: key.schedule,
                search: search,
                page: page
            )
            guard let (answer, sent) = try? await send(call: { await self.api.registrants(query) }), let answer
            else { return .stopped }
            await recordCall(
                .registrants,
                job: nil,
                sent: sent,
                failure: answer.failure,
                attempt: pageFailures + 1,
                reason: answer.failure == nil ? "page \(page)\(search == nil ? "" : ", searched by email")" : nil
            )
            if case .failure(.timedOut) = answer { gate.record(latency: configuration.requestTimeout.seconds) }
            await noteHealth(answer.failure)
            switch answer {
            case .failure(.rateLimited):
                gate.limiter.rateLimited()
                progress.update { $0.rateLimited += 1 }
                continue
            case .failure(let failure):
                // A long list must not hang on one page: vendor trouble on a page past the first
                // is retried in place (with backoff) before the whole pass counts as failed. The
                // first page fails the pass at once (nothing read yet; the job's backoff applies).
                guard page > 1, case .retry = OutcomePolicy.decide(.registrantsCheck, failure, history: CallHistory()),
                    pageFailures < Self.pageRetries
                else { return .failed(failure) }
                pageFailures += 1
                let delay = random.withGenerator { configuration.backoff.delay(forAttempt: pageFailures, random: &$0) }
                do { try await clock.sleep(for: min(delay, .seconds(60))) } catch { return .stopped }
                continue
            case .success(let result):
                pageFailures = 0
                for row in result.registrants {
                    let email = row.email.lowercased()
                    if wanted.contains(email) { rows[email, default: []].append(row) }
                }
                // A search only ever proves a registration: once it has, the rest is not needed.
                if search != nil, !rows.isEmpty { return .rows(rows) }
                guard result.continues(after: page, previous: previous) else { return .rows(rows) }
                previous = result.registrants
                page += 1
            }
        }
    }
}

extension CallKind {
    /// The API method a call of this kind is, as the history records it.
    var method: CallMethod {
        switch self {
        case .register: return .register
        case .registrantsCheck: return .registrants
        case .webinarCheck: return .webinar
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
