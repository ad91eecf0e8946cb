import Synchronization

/// A shared, FIFO-fair, sliding-window rate limiter with an AIMD reaction to HTTP 429.
///
/// **Guarantee:** a start is the instant ``acquire()`` grants (and returns); no interval of length
/// `window` ever contains more than `rate` starts. The limiter keeps a ring buffer of the last `rate`
/// start instants and grants a new start at `max(now, pauseUntil, log[k-th most recent] + window +
/// margin)` where `k` is the effective rate (≤ `rate`). A token bucket would allow 2 × `rate` in a
/// window and is deliberately not used. See ``RateLimiterConfiguration`` for margin and AIMD.
///
/// **Fairness and wake-ups:** callers are granted strictly in the order they called ``acquire()``.
/// If nobody is queued and a slot is free, `acquire()` returns without suspending. Otherwise the
/// caller joins a FIFO queue. Only the head of the queue (the *leader*) sleeps on the clock, until
/// the next slot; every other waiter is parked on a continuation and is resumed only when it
/// becomes the head. There is no polling and no thundering herd: one clock sleep per slot time, and
/// the grants due at the same instant are handed down the queue one by one. Slot times only move
/// later while the leader sleeps (a 429 pause or rate cut), so the leader never oversleeps; it
/// re-checks on waking.
///
/// **Cancellation:** a cancelled queued caller throws `CancellationError` promptly, leaves the queue
/// and consumes no slot; if it was the leader, the next waiter takes over.
///
/// **429s:** call ``rateLimited()`` whenever the API answers 429; the limiter pauses and adapts its
/// effective rate (AIMD, see ``RateLimiterConfiguration``). Retry the request with a new
/// `acquire()`.
///
/// **Caveat:** the guarantee is about grant instants. The time between the grant and the request
/// reaching the vendor (task resumption, connection, network) varies; differences in that delay
/// larger than `margin` can still make the vendor count `rate + 1` in its window, which then
/// surfaces as a 429 handled by the AIMD logic.
///
/// The class is `Sendable`; its state is guarded by a `Mutex` (no actor hops on the fast path).
/// Intended for ~20–2000 `acquire()` calls per second and tens of concurrent callers; queue
/// operations are amortised O(1) except cancellation of a queued caller (O(queue length)).
public final class RateLimiter<C: Clock>: Sendable where C.Duration == Duration {
    /// A snapshot of the limiter's counters, taken atomically.
    public struct Statistics: Sendable, Hashable {
        /// Starts granted so far.
        public var starts: Int
        /// Callers currently inside `acquire()` and not yet granted (queued, including the leader).
        public var waiting: Int
        /// `acquire()` calls that ended with `CancellationError` (before or while queued).
        public var cancelled: Int
        /// Calls to `rateLimited()` (HTTP 429 answers reported).
        public var rateLimitedSignals: Int
        /// 429 episodes, i.e. pauses started while no pause was active.
        public var pauses: Int
        /// Multiplicative decreases applied.
        public var decreases: Int
        /// The effective rate (starts per window) now; `nil` when limiting is disabled.
        public var effectiveRate: Int?
        /// The end of the current 429 pause, or `nil` if no pause is in effect now.
        public var pausedUntil: C.Instant?
    }

    private struct Waiter {
        let id: UInt64
        var isLeader: Bool
        var continuation: CheckedContinuation<Void, any Error>?
    }

    private struct State: CountWatching {
        /// `false` when the configuration's rate is `nil`: everything is granted at once.
        let limited: Bool
        // Configuration copied in for brevity.
        let rate: Int
        let span: Duration  // window + margin
        let config: RateLimiterConfiguration

        var random: any RandomNumberGenerator & Sendable

        // Ring buffer of the last `rate` start instants.
        var log: [C.Instant] = []
        var logNext = 0  // next write position once the buffer is full

        // FIFO of waiters; queue[head] is the leader. Storage is compacted lazily.
        var queue: [Waiter] = []
        var head = 0
        var nextID: UInt64 = 0
        var watches = CountWatches()

        // AIMD.
        var pauseUntil: C.Instant?
        var lastEpisode: C.Instant?
        var baseRate: Int
        var recoveryStart: C.Instant?

        /// The slot the queue's head holds in the shared budget, if any.
        var reservation: SharedBudget.Reservation?

        // Counters.
        var starts = 0
        var cancelled = 0
        var signals = 0
        var pauses = 0
        var decreases = 0

        init(config: RateLimiterConfiguration, random: any RandomNumberGenerator & Sendable) {
            let rate = config.rate ?? 1
            self.limited = config.rate != nil
            self.rate = rate
            self.span = config.window + config.margin
            self.config = config
            self.random = random
            self.baseRate = rate
            log.reserveCapacity(rate)
        }

        // MARK: Queue

        var waiting: Int { queue.count - head }

        /// Every wait returns at once when limiting is disabled.
        var watchedCount: Int { limited ? waiting : .max }

        /// Searches from the back: a caller parks right after enqueueing, so it is usually last.
        func index(of id: UInt64) -> Int? {
            var i = queue.count - 1
            while i >= head {
                if queue[i].id == id { return i }
                i -= 1
            }
            return nil
        }

        mutating func enqueue(_ waiter: Waiter) -> [CheckedContinuation<Void, Never>] {
            queue.append(waiter)
            return watches.takeReached(by: waiting)
        }

        /// Removes the leader and promotes the next waiter. Returns the continuation to resume
        /// (outside the lock) if the new leader is already parked.
        mutating func removeLeader() -> CheckedContinuation<Void, any Error>? {
            head += 1
            if head >= 64 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            guard head < queue.count else {
                queue.removeAll(keepingCapacity: true)
                head = 0
                return nil
            }
            queue[head].isLeader = true
            let continuation = queue[head].continuation
            queue[head].continuation = nil
            return continuation
        }

        // MARK: Log

        /// The `k`-th most recent start (k ≥ 1), or `nil` if fewer than `k` starts are logged.
        func recentStart(_ k: Int) -> C.Instant? {
            guard k <= log.count else { return nil }
            if log.count < rate { return log[log.count - k] }
            var index = logNext - k
            if index < 0 { index += rate }
            return log[index]
        }

        /// Moves the logged start `slot` to `instant`, and any later logged start that would now
        /// precede it too (the log stays in time order; moving starts later is only stricter).
        mutating func delay(_ slot: C.Instant, to instant: C.Instant) {
            var found = false
            for k in stride(from: log.count, through: 1, by: -1) {
                let index = log.count < rate ? log.count - k : (logNext - k + rate) % rate
                if !found && log[index] == slot { found = true }
                if found && log[index] < instant { log[index] = instant }
            }
        }

        mutating func recordStart(_ instant: C.Instant) {
            if log.count < rate {
                log.append(instant)
            } else {
                log[logNext] = instant
                logNext += 1
                if logNext == rate { logNext = 0 }
            }
            starts += 1
        }

        // MARK: AIMD

        func effectiveRate(at t: C.Instant) -> Int {
            guard let start = recoveryStart, baseRate < rate else { return baseRate }
            guard t >= start else { return baseRate }
            let steps = start.duration(to: t).nanoseconds / config.increaseInterval.nanoseconds
            let needed = Int64((rate - baseRate + config.increaseStep - 1) / config.increaseStep)
            if steps >= needed { return rate }
            return min(rate, baseRate + Int(steps) * config.increaseStep)
        }

        /// The next instant after `t` at which the effective rate increases, if it is below `rate`.
        func nextIncrease(after t: C.Instant) -> C.Instant? {
            guard let start = recoveryStart, effectiveRate(at: t) < rate else { return nil }
            guard t >= start else { return start.advanced(by: config.increaseInterval) }
            let steps = start.duration(to: t).nanoseconds / config.increaseInterval.nanoseconds
            return start.advanced(by: config.increaseInterval * (steps + 1))
        }

        /// The earliest instant ≥ `now` at which a new start may be granted.
        ///
        /// Monotone: as time passes without new starts, old starts leave the window and the
        /// effective rate can only grow, so the first instant satisfying the rule is found by
        /// walking the (at most `rate`) increase steps.
        func nextStart(now: C.Instant) -> C.Instant {
            var t = now
            if let pause = pauseUntil, pause > t { t = pause }
            while true {
                let k = effectiveRate(at: t)
                var candidate = t
                if let oldest = recentStart(k) {
                    let free = oldest.advanced(by: span)
                    if free > candidate { candidate = free }
                }
                if config.evenSpacing, let latest = recentStart(1) {
                    let spaced = latest.advanced(by: span / k)
                    if spaced > candidate { candidate = spaced }
                }
                guard let step = nextIncrease(after: t), step <= candidate else { return candidate }
                t = step
            }
        }

        mutating func rateLimited(now: C.Instant) -> C.Instant {
            signals += 1
            var jitter = Duration.zero
            let maxJitter = config.pauseJitter.nanoseconds
            if maxJitter > 0 {
                jitter = .nanoseconds(Int64.random(in: 0...maxJitter, using: &random))
            }
            let until = now.advanced(by: config.pause + jitter)
            let inPause = pauseUntil.map { now < $0 } ?? false
            let current = effectiveRate(at: now)
            var newRate = current
            if !inPause {
                pauses += 1
                let isRepeat = lastEpisode.map { $0.duration(to: now) <= config.repeatInterval } ?? false
                if isRepeat || current < rate {
                    let cut = Int((Double(current) * config.decreaseFactor).rounded(.down))
                    newRate = max(config.minimumRate, cut)
                    decreases += 1
                }
                lastEpisode = now
            }
            if let existing = pauseUntil, existing > until {
                pauseUntil = existing
            } else {
                pauseUntil = until
            }
            baseRate = newRate
            recoveryStart = pauseUntil
            return pauseUntil!
        }
    }

    private enum EnterOutcome {
        case granted(C.Instant)
        case lead(UInt64, [CheckedContinuation<Void, Never>])
        case park(UInt64, [CheckedContinuation<Void, Never>])
    }

    private enum LeadStep {
        case granted(C.Instant, CheckedContinuation<Void, any Error>?)
        case cancelled(CheckedContinuation<Void, any Error>?)
        case sleep(C.Instant)
    }

    private enum ParkAction {
        case lead, cancel, parked
    }

    /// The clock the limiter reads and sleeps on.
    public let clock: C
    /// The configuration the limiter was created with.
    public let configuration: RateLimiterConfiguration
    /// The budget shared with other processes on the same key, if any.
    public let shared: SharedStarts<C>?
    private let state: Mutex<State>

    /// Creates a limiter.
    ///
    /// - Parameters:
    ///   - clock: the clock used for start instants and sleeping (a ``ManualClock`` in tests).
    ///   - configuration: rate, window, margin and AIMD parameters (defaults: 20 per 1 s, 5 ms).
    ///   - random: source of the 429 pause jitter; inject a seeded ``SplitMix64`` for tests.
    ///   - shared: a budget shared with other processes: every start is also reserved there, in
    ///     request order, and a 429 reported here pauses them all (ignored when unlimited).
    public init(
        clock: C,
        configuration: RateLimiterConfiguration = RateLimiterConfiguration(),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        shared: SharedStarts<C>? = nil
    ) {
        configuration.validate()
        self.clock = clock
        self.configuration = configuration
        self.shared = configuration.rate == nil ? nil : shared
        self.state = Mutex(State(config: configuration, random: random))
    }

    /// Waits for a start slot and returns the granted start instant (the clock's `now` at grant).
    ///
    /// Granted in call order (FIFO). Returns without suspending if nobody is queued and a slot is
    /// free. Throws `CancellationError` if the task is cancelled before being granted; a cancelled
    /// caller consumes no slot.
    @discardableResult
    public func acquire() async throws -> C.Instant {
        try await acquire(lead: .zero)
    }

    /// Reserves the next start slot and returns up to `lead` before it: the returned instant is
    /// the slot, possibly in the future. The caller prepares (e.g. commits its intent to disk)
    /// and then sleeps until the slot before starting, so the preparation's variable duration
    /// never bunches up starts. The slot counts in the window from the moment it is reserved.
    @discardableResult
    public func acquire(lead ahead: Duration) async throws -> C.Instant {
        if Task.isCancelled {
            state.withLock { $0.cancelled += 1 }
            throw CancellationError()
        }
        let outcome = state.withLock { state -> EnterOutcome in
            let now = clock.now
            if !state.limited {
                state.recordStart(now)
                return .granted(now)
            }
            if state.waiting == 0 && shared == nil {
                let next = state.nextStart(now: now)
                if next <= now.advanced(by: ahead) {
                    let slot = max(now, next)
                    state.recordStart(slot)
                    return .granted(slot)
                }
            }
            state.nextID &+= 1
            let id = state.nextID
            let isLeader = state.waiting == 0
            let watches = state.enqueue(Waiter(id: id, isLeader: isLeader, continuation: nil))
            return isLeader ? .lead(id, watches) : .park(id, watches)
        }
        switch outcome {
        case .granted(let instant):
            return instant
        case .lead(let id, let watches):
            for watch in watches { watch.resume() }
            return try await lead(id: id, ahead: ahead)
        case .park(let id, let watches):
            for watch in watches { watch.resume() }
            try await park(id: id)
            return try await lead(id: id, ahead: ahead)
        }
    }

    /// Suspends until this waiter becomes the leader, or throws if cancelled while parked.
    private func park(id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action = self.state.withLock { state -> ParkAction in
                    guard let index = state.index(of: id) else { return .cancel }
                    if state.queue[index].isLeader { return .lead }
                    // Checked under the lock: either we see the cancellation here, or the handler
                    // runs after the continuation is stored and finds it.
                    if Task.isCancelled {
                        state.queue.remove(at: index)
                        state.cancelled += 1
                        return .cancel
                    }
                    state.queue[index].continuation = continuation
                    return .parked
                }
                switch action {
                case .lead: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                case .parked: break
                }
            }
        } onCancel: {
            let continuation = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.index(of: id), !state.queue[index].isLeader,
                    let continuation = state.queue[index].continuation
                else { return nil }
                // Never the head: the head is always the leader.
                state.queue.remove(at: index)
                state.cancelled += 1
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Runs as the head of the queue: sleeps until the next slot, then grants itself and hands the
    /// leadership to the next waiter.
    private func lead(id: UInt64, ahead: Duration) async throws -> C.Instant {
        while true {
            let step = state.withLock { state -> LeadStep in
                assert(state.queue[state.head].id == id && state.queue[state.head].isLeader)
                if Task.isCancelled {
                    state.cancelled += 1
                    return .cancelled(state.removeLeader())
                }
                let now = clock.now
                var next = state.nextStart(now: now)
                if let shared {
                    // The queue's head holds one slot of the shared budget at a time, reserved
                    // in request order; a 429 anywhere on the key may void it.
                    // A held slot stands unless this limiter's own rules now start later than it
                    // (its own 429 pause); a slot whose time has come (or passed: a late wake-up)
                    // is taken now.
                    let local = shared.nanos(next)
                    let constrained = next > now
                    if let held = state.reservation, held.slot >= local || !constrained, shared.budget.isValid(held) {
                        next = max(next, shared.instant(held.slot))
                    } else {
                        let held = shared.budget.reserve(notBefore: local, now: shared.nanos(now))
                        state.reservation = held
                        next = max(next, shared.instant(held.slot))
                    }
                }
                if next <= now.advanced(by: ahead) {
                    let slot = max(now, next)
                    if let shared, let held = state.reservation {
                        state.reservation = nil
                        shared.budget.delay(held.slot, to: shared.nanos(slot))
                    }
                    state.recordStart(slot)
                    return .granted(slot, state.removeLeader())
                }
                return .sleep(next.advanced(by: .zero - ahead))
            }
            switch step {
            case .granted(let instant, let next):
                next?.resume()
                return instant
            case .cancelled(let next):
                next?.resume()
                throw CancellationError()
            case .sleep(let deadline):
                do {
                    try await clock.sleep(until: deadline, tolerance: nil)
                } catch {
                    let next = state.withLock { state in
                        state.cancelled += 1
                        return state.removeLeader()
                    }
                    next?.resume()
                    throw error
                }
            }
        }
    }

    /// Records that the start granted at `slot` really happened at `instant` (later): a caller
    /// that woke up late for its slot, or a process's first call, which pays for connection
    /// set-up before it reaches the vendor. The window then counts the real start, so the
    /// calls after it keep their distance. Never moves a start earlier.
    public func delayStart(_ slot: C.Instant, to instant: C.Instant) {
        // In the shared log only by up to the margin: there, later starts belong to other
        // processes and cannot be pushed, so a longer move could crowd a window.
        delay(slot, to: instant, sharedUpTo: configuration.margin)
    }

    /// Records that the call started at `stamped` left the process at `sent` (later: it
    /// waited in the HTTP client for a connection, TLS or a busy event loop). The vendor sees
    /// the later instant, so the window counts it, in the shared log too: the calls reserved
    /// after this instant keep their distance from the real send. By up to the window (a move
    /// learned later than that comes after the calls it should have kept away).
    public func recordSend(_ stamped: C.Instant, at sent: C.Instant) {
        delay(stamped, to: sent, sharedUpTo: configuration.window)
    }

    private func delay(_ slot: C.Instant, to instant: C.Instant, sharedUpTo limit: Duration) {
        state.withLock { state in
            guard state.limited, instant > slot else { return }
            state.delay(slot, to: instant)
            if let shared, slot.duration(to: instant) <= limit {
                shared.budget.delay(shared.nanos(slot), to: shared.nanos(instant))
            }
        }
    }

    /// Reports an HTTP 429: pauses all starts until at least `now + pause + jitter` and applies the
    /// AIMD decrease rule (see ``RateLimiterConfiguration``).
    ///
    /// - Returns: the instant before which no start will be granted (`now` when unlimited).
    @discardableResult
    public func rateLimited() -> C.Instant {
        state.withLock { state in
            let now = clock.now
            guard state.limited else {
                state.signals += 1
                return now
            }
            let until = state.rateLimited(now: now)
            if let shared {
                return max(until, shared.instant(shared.budget.rateLimited(now: shared.nanos(now))))
            }
            return until
        }
    }

    /// The effective rate (starts per window) at the clock's current time; `nil` when unlimited.
    public var effectiveRate: Int? {
        state.withLock { state in state.limited ? state.effectiveRate(at: clock.now) : nil }
    }

    /// The effective rate the limiter will apply at `instant`, assuming no further 429;
    /// `nil` when unlimited.
    public func effectiveRate(at instant: C.Instant) -> Int? {
        state.withLock { state in state.limited ? state.effectiveRate(at: instant) : nil }
    }

    /// The earliest instant at which a new caller could be granted, assuming no further 429 and
    /// nobody queued ahead of it (`now` when unlimited).
    public var nextAvailableStart: C.Instant {
        state.withLock { state in
            let now = clock.now
            return state.limited ? state.nextStart(now: now) : now
        }
    }

    /// A consistent snapshot of the counters.
    public var statistics: Statistics {
        state.withLock { state in
            let now = clock.now
            return Statistics(
                starts: state.starts,
                waiting: state.waiting,
                cancelled: state.cancelled,
                rateLimitedSignals: state.signals,
                pauses: state.pauses,
                decreases: state.decreases,
                effectiveRate: state.limited ? state.effectiveRate(at: now) : nil,
                pausedUntil: state.pauseUntil.flatMap { $0 > now ? $0 : nil }
            )
        }
    }

    /// Suspends until at least `count` callers are queued in `acquire()` (see
    /// ``Statistics/waiting``), without real sleeping: it is resumed by the `count`-th enqueue.
    /// Returns at once if already so; always returns at once when limiting is disabled.
    ///
    /// Meant for tests (with a ``ManualClock``). If the waiting task is cancelled (e.g. by a test
    /// time limit) it returns early.
    package func waitForWaiters(count: Int) async {
        await state.waitForCount(atLeast: count)
    }
}

extension RateLimiter where C == ContinuousClock {
    /// Creates a limiter on the `ContinuousClock` (production).
    public convenience init(
        configuration: RateLimiterConfiguration = RateLimiterConfiguration(),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
        self.init(clock: ContinuousClock(), configuration: configuration, random: random)
    }
}
