import Logging
import Synchronization
import Pacing
import WebinarAPI

/// How `bulkreg run` behaves.
public struct RunConfiguration: Sendable {
    /// Concurrent workers; nil picks enough to hold the rate at the observed latency.
    public var workers: Int?
    /// Call starts per second across all workers; 0 turns the limiter off.
    public var rate: Int
    /// Register attempts (transient failures) before a job fails for good.
    public var maxAttempts: Int
    /// The client's request timeout: after this, a call that may have reached the vendor can
    /// no longer be in progress there, and may be verified with `registrants`.
    public var requestTimeout: Duration
    /// Backoff between attempts.
    public var backoff: Backoff
    /// Seed for jitter (tests pass a fixed one).
    public var seed: UInt64
    /// How far ahead of its slot a register call commits its intent (see `Runner`).
    public var sendLead: Duration = .milliseconds(250)
    /// Called with the wall-clock time of every API call's start (the run lock records it).
    public var callStarted: (@Sendable (Double) -> Void)?
    /// Wall-clock time of the latest call of a previous run on this database, if recent: no
    /// call starts before it is a window (plus margin) old.
    public var previousCallAt: Double?
    /// Safety margin added to the 1-second window, against network jitter: sustained
    /// throughput is rate / (1 s + margin). 5 ms → 19.9 calls/s.
    public var margin: Duration = .milliseconds(5)

    public init(
        workers: Int? = nil, rate: Int = 20, maxAttempts: Int = 6, requestTimeout: Duration = .seconds(30),
        backoff: Backoff = Backoff(), seed: UInt64 = UInt64.random(in: 1...UInt64.max)
    ) {
        self.workers = workers
        self.rate = rate
        self.maxAttempts = maxAttempts
        self.requestTimeout = requestTimeout
        self.backoff = backoff
        self.seed = seed
    }

    /// Workers to start with: enough in flight for `rate` at 2 s of latency, at least 4.
    var initialWorkers: Int {
        if let workers { return max(1, workers) }
        return rate == 0 ? 64 : max(4, rate * 2 + 4)
    }
}

/// How a run ended.
public enum RunOutcome: Sendable, Equatable {
    /// Nothing left in the queue.
    case drained(RunProgress.Snapshot)
    /// Stopped on request (signal) with work left.
    case stopped(RunProgress.Snapshot)
}

/// Drains the queue: FIFO workers sharing one limiter, every state change committed before
/// it counts, every uncertain call verified before it is repeated.
public final class Runner<C: Clock>: Sendable where C.Duration == Duration {
    let api: any WebinarAPI
    let store: JobStore
    let limiter: RateLimiter<C>
    let clock: C
    let configuration: RunConfiguration
    let progress: RunProgress
    let logger: Logger
    let wallClock: @Sendable () -> Double
    let scheduler: Scheduler<C>
    let preflight = PreflightCache()
    let warmUp = WarmUp()
    /// Set while the API cannot be reached (the scheduler holds the run's pause).
    let outage = Mutex(false)
    /// Failed `registrants` checks per uncertain job, in this run.
    let verifyFailures = Mutex<[Int: Int]>([:])
    let random: LockedRandom
    private let stopState = Mutex<(stopping: Bool, failure: BulkRegError?)>((false, nil))

    public init(
        api: any WebinarAPI, store: JobStore, clock: C, configuration: RunConfiguration,
        progress: RunProgress = RunProgress(), logger: Logger = Logger(label: "bulkreg.run"),
        wallClock: @escaping @Sendable () -> Double = WallClock.now
    ) {
        self.api = api
        self.store = store
        self.clock = clock
        self.configuration = configuration
        self.progress = progress
        self.logger = logger
        self.wallClock = wallClock
        self.limiter = RateLimiter(
            clock: clock,
            configuration: RateLimiterConfiguration(
                rate: configuration.rate > 0 ? configuration.rate : nil, margin: configuration.margin),
            random: SplitMix64(seed: configuration.seed ^ 0x5DEE_CE66))
        self.random = LockedRandom(seed: configuration.seed)
        self.scheduler = Scheduler(clock: clock) { after, limit in
            try await store.queuedPage(after: after, limit: limit)
        }
    }

    /// Stops claiming jobs; calls in flight finish and are committed.
    public func requestStop() {
        stopState.withLock { $0.stopping = true }
        Task { await scheduler.stop() }
    }

    /// The shared limiter's counters (starts, 429 pauses, effective rate).
    public var limiterStatistics: RateLimiter<C>.Statistics { limiter.statistics }

    var isStopping: Bool { stopState.withLock { $0.stopping } }

    private func abort(_ error: BulkRegError) {
        stopState.withLock {
            if $0.failure == nil { $0.failure = error }
            $0.stopping = true
        }
        Task { await scheduler.stop() }
    }

    /// Runs until the queue is drained or a stop is requested.
    ///
    /// - Throws: `BulkRegError(.auth)` when the key is refused (the jobs stay queued), and
    ///   `.storage` when the database fails.
    public func run() async throws -> RunOutcome {
        let now = wallClock()
        _ = try await store.recoverInFlight(now: now)
        let openJobs = try await store.openJobs()
        progress.update { $0.total = openJobs }
        await preflight.load(try await store.checkedTargets())
        let uncertain = try await store.uncertainJobs()
        let timeout = configuration.requestTimeout
        let clockNow = clock.now
        await scheduler.addUncertain(uncertain) { job in
            let sent = job.sentAt ?? now
            let wait = max(0, sent + timeout.seconds - now)
            return clockNow.advanced(by: .seconds(wait))
        }

        if let previous = configuration.previousCallAt, configuration.rate > 0 {
            // A run that was killed a moment ago made calls the limiter has not seen: let the
            // vendor's window of those calls pass before the first call of this run.
            let wait = previous + 1 + configuration.margin.seconds - wallClock()
            if wait > 0 { try await clock.sleep(for: .seconds(min(wait, 2))) }
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<configuration.initialWorkers {
                group.addTask { await self.work() }
            }
        }
        if let failure = stopState.withLock({ $0.failure }) { throw failure }
        if let error = await scheduler.loadError {
            throw error as? BulkRegError ?? BulkRegError(.storage, "\(error)")
        }
        let snapshot = progress.snapshot
        let left = try await store.counts()
        let open = (left[.queued] ?? 0) + (left[.uncertain] ?? 0) + (left[.inFlight] ?? 0)
        return open == 0 ? .drained(snapshot) : .stopped(snapshot)
    }

    // MARK: worker

    private func work() async {
        while let work = await scheduler.next() {
            do {
                try await handle(work)
            } catch let error as BulkRegError {
                abort(error)
                await scheduler.finished()
            } catch is CancellationError {
                await scheduler.finished()
                return
            } catch {
                abort(BulkRegError(.unexpected, "\(error)"))
                await scheduler.finished()
            }
        }
    }

    private func handle(_ work: Scheduler<C>.Work) async throws {
        var job = work.job
        let claimed = job
        // Preflight: is the webinar/schedule/date real? Checked once per target per database.
        switch await preflight.check(job.target, perform: { await self.checkTarget(claimed) }) {
        case .ok:
            break
        case .missing(let message):
            try await store.commit(.failed(job: job.id, attempts: job.attempts, message: message, at: wallClock()))
            progress.update { $0.failed += 1 }
            await scheduler.finished()
            return
        case .unauthorized(let message):
            await scheduler.later(work, readyAt: clock.now)
            throw BulkRegError(.auth, "the API key was refused: \(message). Nothing was registered with it; fix the key and run again.")
        case .transient(let reason):
            try await transient(work, reason: "checking the webinar: \(reason)", mayHaveReached: false, sentAt: nil)
            return
        }
        if case .verify = work {
            switch try await verify(job) {
            case .registered:
                await scheduler.finished()
                return
            case .retryLater:
                return
            case .notRegistered:
                if job.attempts >= configuration.maxAttempts {
                    try await fail(job, "gave up after \(job.attempts) attempts: \(job.lastError ?? "no answer")")
                    return
                }
            }
        }
        // The intent to send is durable before the call starts: after a crash this job is
        // `in_flight`, and is verified with `registrants` before it is ever sent again. The slot
        // is reserved `sendLead` ahead, so the commit's fsync never bunches calls up; only the
        // few jobs within `sendLead` of their slot are in flight at any moment.
        var sentAt = 0.0
        let answer = try await paced(prepare: {
            try await self.store.commit(.sending(job: job.id, at: self.wallClock()))
            if self.isStopping {
                try await self.store.commit(
                    .requeued(job: job.id, attempts: job.attempts, notBefore: nil, lastError: job.lastError, at: self.wallClock()))
                return false
            }
            return true
        }) {
            sentAt = self.wallClock()
            self.progress.update {
                $0.calls += 1
                $0.inFlight += 1
            }
            return await self.api.register(job.request)
        }
        guard let result = answer else {
            // Claimed but never sent: it is back in the queue.
            await scheduler.finished()
            return
        }
        progress.update { $0.inFlight -= 1 }
        if Self.reachedAPI(result) { await reached() }
        switch result {
        case .success(let user):
            try await store.commit(
                .done(job: job.id, attempts: job.attempts + 1, user: user, source: .register, at: wallClock()))
            progress.update { $0.done += 1 }
            await scheduler.finished()
        case .failure(.rateLimited):
            _ = limiter.rateLimited()
            progress.update { $0.rateLimited += 1 }
            try await store.commit(
                .requeued(job: job.id, attempts: job.attempts, notBefore: nil, lastError: "429 Too many requests", at: wallClock()))
            await scheduler.later(.register(job), readyAt: clock.now)
        case .failure(.unauthorized(let message)):
            try await store.commit(
                .requeued(job: job.id, attempts: job.attempts, notBefore: nil, lastError: nil, at: wallClock()))
            await scheduler.later(.register(job), readyAt: clock.now)
            throw BulkRegError(.auth, "the API key was refused: \(message). The remaining jobs stay queued; fix the key and run again.")
        case .failure(.rejected(let status, let message)):
            job.attempts += 1
            try await fail(job, status == 200 ? message : "\(message) (HTTP \(status))")
        case .failure(.transient(let reason, let mayHaveReached)):
            if mayHaveReached { job.attempts += 1 }
            try await transient(.register(job), reason: reason, mayHaveReached: mayHaveReached, sentAt: sentAt)
        }
    }

    private func fail(_ job: Job, _ message: String) async throws {
        try await store.commit(.failed(job: job.id, attempts: job.attempts, message: message, at: wallClock()))
        progress.update { $0.failed += 1 }
        await scheduler.finished()
    }

    /// Retry later, or give up; a call that may have reached the vendor is verified first.
    private func transient(_ work: Scheduler<C>.Work, reason: String, mayHaveReached: Bool, sentAt: Double?) async throws {
        let job = work.job
        let now = wallClock()
        if mayHaveReached, let sentAt {
            // Ask `registrants` once the call can no longer be in progress at the vendor.
            let wait = max(0, sentAt + configuration.requestTimeout.seconds - now)
            try await store.commit(.uncertain(job: job.id, attempts: job.attempts, sentAt: sentAt, lastError: reason, at: now))
            progress.update { $0.retries += 1 }
            var uncertain = job
            uncertain.lastError = reason
            await scheduler.later(.verify(uncertain), readyAt: clock.now.advanced(by: .seconds(wait)))
            return
        }
        if case .register = work {
            try await store.commit(.requeued(job: job.id, attempts: job.attempts, notBefore: nil, lastError: reason, at: now))
        }
        await unreachable(work, reason: reason)
    }

    /// The call never reached the vendor (refused, DNS, TLS, connect timeout): the API is
    /// unreachable, not the lead at fault. No attempt is spent; the whole run pauses, for
    /// longer after each failed probe (up to the backoff's cap), and resumes by itself when a
    /// probe reaches the API. The progress line says so meanwhile. The job's state is
    /// already committed (queued, or still uncertain for a verification).
    private func unreachable(_ work: Scheduler<C>.Work, reason: String) async {
        let since = wallClock()
        outage.withLock { $0 = true }
        let backoff = configuration.backoff
        let random = self.random
        let until = await scheduler.unreachable(work) { level in
            random.withGenerator { backoff.delay(forAttempt: min(level, 16), random: &$0) }
        }
        let wait = max(0, (clock.now.duration(to: until)).seconds)
        progress.update {
            $0.retries += 1
            $0.unreachable = reason
            if $0.unreachableSince == nil { $0.unreachableSince = since }
            $0.nextProbeAt = self.wallClock() + wait
        }
    }

    /// The API answered: an outage, if any, is over.
    private func reached() async {
        guard outage.withLock({ was -> Bool in
            defer { was = false }
            return was
        }) else { return }
        progress.update {
            $0.unreachable = nil
            $0.unreachableSince = nil
            $0.nextProbeAt = nil
        }
        await scheduler.reachable()
    }

    /// Whether a call's outcome shows the API is reachable (anything but a call that
    /// certainly never got there).
    static func reachedAPI<T>(_ result: Result<T, APIFailure>) -> Bool {
        if case .failure(.transient(_, false)) = result { return false }
        return true
    }

    private enum Verification { case registered, notRegistered, retryLater }

    /// Asks `registrants` whether an uncertain job's person is registered.
    private func verify(_ job: Job) async throws -> Verification {
        var page = 1
        while true {
            let query = RegistrantsQuery(
                platform: job.request.platform, webinarID: job.request.webinarID, scheduleID: job.request.schedule,
                search: job.request.email, page: page)
            let answer = try await paced(prepare: { !self.isStopping }) {
                self.progress.update { $0.calls += 1 }
                return await self.api.registrants(query)
            }
            guard let answer else {
                await scheduler.finished()
                return .retryLater
            }
            if Self.reachedAPI(answer) { await reached() }
            switch answer {
            case .success(let answer):
                verifyFailures.withLock { _ = $0.removeValue(forKey: job.id) }
                let email = job.request.email.lowercased()
                if let found = answer.registrants.first(where: {
                    $0.email.lowercased() == email && ($0.scheduleID == nil || $0.scheduleID == job.request.schedule)
                }) {
                    let user = RegisteredUser(
                        userID: found.leadID ?? found.id ?? 0, webinarID: job.request.webinarID, email: found.email,
                        schedule: found.scheduleID, liveRoomURL: found.liveRoomURL ?? "",
                        replayRoomURL: found.replayRoomURL, thankYouURL: nil)
                    try await store.commit(
                        .done(job: job.id, attempts: job.attempts, user: user, source: .registrants, at: wallClock()))
                    progress.update {
                        $0.done += 1
                        $0.verified += 1
                    }
                    return .registered
                }
                if let last = answer.lastPage, page < last, page < 20 {
                    page += 1
                    continue
                }
                return .notRegistered
            case .failure(.rateLimited):
                _ = limiter.rateLimited()
                progress.update { $0.rateLimited += 1 }
                continue
            case .failure(.unauthorized(let message)):
                await scheduler.later(.verify(job), readyAt: clock.now)
                throw BulkRegError(.auth, "the API key was refused: \(message). The remaining jobs stay queued; fix the key and run again.")
            case .failure(.rejected(let status, let message)):
                try await fail(
                    job,
                    "could not check whether the earlier call registered this lead (registrants answered HTTP \(status): \(message)); "
                        + "run `bulkreg retry --job \(job.id)` to register it anyway")
                return .retryLater
            case .failure(.transient(let reason, false)):
                // Never reached the API: the outage pause, no attempt spent; still uncertain.
                await unreachable(.verify(job), reason: "checking the registrants: \(reason)")
                return .retryLater
            case .failure(.transient(let reason, true)):
                // The check itself failed at the vendor (5xx, timeout, an oversized answer):
                // tried up to max-attempts times, with backoff, then the job fails with the
                // reason (it stays unknown whether the earlier call registered the lead).
                let failures = verifyFailures.withLock { counts -> Int in
                    counts[job.id, default: 0] += 1
                    return counts[job.id]!
                }
                if failures >= configuration.maxAttempts {
                    verifyFailures.withLock { _ = $0.removeValue(forKey: job.id) }
                    try await fail(
                        job,
                        "could not check whether the earlier call registered this lead: \(reason); "
                            + "run `bulkreg retry --job \(job.id)` to try again")
                    return .retryLater
                }
                let delay = random.withGenerator { configuration.backoff.delay(forAttempt: failures, random: &$0) }
                progress.update { $0.retries += 1 }
                await scheduler.later(.verify(job), readyAt: clock.now.advanced(by: delay))
                return .retryLater
            }
        }
    }

    /// Every call to the vendor goes through here: the shared limiter, then the call.
    ///
    /// The process's first call goes alone (the warm-up): it pays for connection set-up and
    /// lazy initialisation, so it reaches the vendor later than it was granted; its start is
    /// moved to when it answered, so the vendor never sees 21 calls in one of its windows.
    /// - Parameters:
    ///   - prepare: runs once the slot is reserved, before the call; false cancels the call.
    /// - Returns: the call's answer, or nil when `prepare` cancelled it.
    private func paced<T: Sendable>(
        prepare: () async throws -> Bool, _ call: () async -> T
    ) async throws -> T? {
        let warming = await warmUp.enter()
        do {
            let slot = try await limiter.acquire(lead: warming ? .zero : configuration.sendLead)
            guard try await prepare() else {
                if warming { await warmUp.done() }
                return nil
            }
            try await clock.sleep(until: slot, tolerance: nil)
            // Woken late (a busy machine): the window must count the real start.
            let started = clock.now
            if started > slot { limiter.delayStart(slot, to: started) }
            configuration.callStarted?(wallClock())
            let result = await call()
            if warming {
                limiter.delayStart(slot, to: clock.now)
                await warmUp.done()
            }
            return result
        } catch {
            if warming { await warmUp.done() }
            throw error
        }
    }

    /// Calls `webinar` to check a target exists (and, for EverWebinar, that its date is a session).
    private func checkTarget(_ job: Job) async -> PreflightCache.Result {
        let target = job.target
        let answer: Result<WebinarDetail, APIFailure>?
        do {
            answer = try await paced(prepare: { true }) {
                self.progress.update { $0.calls += 1 }
                return await self.api.webinar(
                    platform: target.platform, webinarID: target.webinarID, timezone: job.request.timezone)
            }
        } catch {
            return .transient("cancelled")
        }
        if Self.reachedAPI(answer!) { await reached() }
        switch answer! {
        case .success(let webinar):
            let schedules = webinar.schedules.filter { $0.schedule == target.schedule }
            var result: PreflightCache.Result = .ok
            var message: String?
            if schedules.isEmpty {
                let known = webinar.schedules.map { String($0.schedule) }.joined(separator: ", ")
                message = "\(target): no such schedule (the webinar's schedules are: \(known.isEmpty ? "none" : known))"
                result = .missing(message!)
            } else if target.platform == .everwebinar, !target.date.isEmpty,
                !schedules.contains(where: { $0.date == target.date })
            {
                let dates = schedules.compactMap(\.date).joined(separator: ", ")
                message = "\(target): the date is not a session of this schedule (sessions: \(dates))"
                result = .missing(message!)
            }
            if case .ok = result { message = nil }
            let ok: Bool = { if case .ok = result { return true } else { return false } }()
            try? await store.commit(.target(target, ok: ok, message: message, at: wallClock()))
            return result
        case .failure(.rateLimited):
            _ = limiter.rateLimited()
            progress.update { $0.rateLimited += 1 }
            return .transient("429 Too many requests")
        case .failure(.unauthorized(let message)):
            return .unauthorized(message)
        case .failure(.rejected(let status, let message)):
            let text = "\(target): the webinar check failed: \(message) (HTTP \(status))"
            try? await store.commit(.target(target, ok: false, message: text, at: wallClock()))
            return .missing(text)
        case .failure(.transient(let reason, _)):
            return .transient(reason)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }

    /// A duration of `value` seconds.
    public static func seconds(_ value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e9).rounded()))
    }
}

/// One check per target per database, shared by all workers: the first worker to need it
/// calls `webinar`, the others wait for its answer.
actor PreflightCache {
    enum Result: Sendable {
        case ok
        case missing(String)
        case unauthorized(String)
        case transient(String)
    }

    private var known: [Target: Result] = [:]
    private var running: [Target: Task<Result, Never>] = [:]

    func load(_ checked: [Target: (ok: Bool, message: String?)]) {
        for (target, value) in checked {
            known[target] = value.ok ? .ok : .missing(value.message ?? "\(target): not found")
        }
    }

    func check(_ target: Target, perform: @escaping @Sendable () async -> Result) async -> Result {
        if let result = known[target] { return result }
        if let task = running[target] { return await task.value }
        let task = Task { await perform() }
        running[target] = task
        let result = await task.value
        running[target] = nil
        switch result {
        case .ok, .missing: known[target] = result
        case .unauthorized, .transient: break
        }
        return result
    }
}

/// A seeded generator shared by the workers.
final class LockedRandom: Sendable {
    private let state: Mutex<SplitMix64>

    init(seed: UInt64) { state = Mutex(SplitMix64(seed: seed)) }

    func withGenerator<T>(_ body: (inout SplitMix64) -> T) -> T {
        state.withLock { body(&$0) }
    }
}

/// Lets the process's first call go alone; everyone else waits until it has answered.
actor WarmUp {
    private var state: State = .cold
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private enum State { case cold, warming, warm }

    /// True for the caller that makes the warm-up call; others return once it is done.
    func enter() async -> Bool {
        switch state {
        case .warm: return false
        case .cold:
            state = .warming
            return true
        case .warming:
            await withCheckedContinuation { waiters.append($0) }
            return false
        }
    }

    func done() {
        state = .warm
        let all = waiters
        waiters.removeAll()
        for w in all { w.resume() }
    }
}
