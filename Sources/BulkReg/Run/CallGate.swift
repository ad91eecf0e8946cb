import Pacing
import Synchronization
import WebinarAPI

/// Every call to the vendor goes through here: the shared limiter, a fresh slot, the call,
/// and the latency it took.
///
/// A call is sent only on its own slot. The slot is reserved `sendLead` ahead so the intent's
/// commit (an fsync) never bunches calls up; if the commit, or anything else before the send,
/// ends after the slot by more than the limiter's margin, the call takes a new slot instead
/// of going late on the old one (a late start on an old slot would put more than `rate`
/// starts into one second at the vendor). A start late by less than the margin is re-stamped
/// at its real instant, which keeps the window's invariant.
///
/// The process's first call goes alone (the warm-up): it pays for connection set-up and lazy
/// initialisation, so it reaches the vendor later than it was granted. Its start moves, in
/// the shared log too, to the instant the connection takes its request (``SendObserving``),
/// before the calls it must keep its distance from are granted; in this process, to when it
/// answered.
final class CallGate<C: Clock>: Sendable where C.Duration == Duration {
    let limiter: RateLimiter<C>
    private let clock: C
    private let sendLead: Duration
    private let margin: Duration
    private let sendObserver: (any SendObserving)?
    private let warmUp = WarmUp()
    private let latencies = Mutex(LatencyWindow())
    private let lateStarts = Mutex(0)

    init(
        limiter: RateLimiter<C>,
        clock: C,
        sendLead: Duration,
        margin: Duration,
        sendObserver: (any SendObserving)? = nil
    ) {
        self.sendObserver = sendObserver
        self.limiter = limiter
        self.clock = clock
        self.sendLead = sendLead
        self.margin = margin
    }

    /// The recent latencies.
    var latency: LatencyWindow { latencies.withLock { $0 } }

    /// Calls that took a fresh slot because their preparation ended after their slot.
    var freshSlots: Int { lateStarts.withLock { $0 } }

    /// Records a call's latency measured elsewhere (a timed-out call: its timeout).
    func record(latency seconds: Double) {
        latencies.withLock { $0.record(seconds) }
    }

    /// Runs `call` on a slot of its own.
    /// - Parameters:
    ///   - prepare: runs once the slot is reserved, before the call; false cancels the call.
    ///   - stillWanted: asked at the slot, just before the call starts; false cancels it (a
    ///     stop that came while the call waited for its slot: no call starts after a signal).
    ///   - send: the call; receives the monotonic instant it starts at.
    /// - Returns: the call's answer, or nil when `prepare` or `stillWanted` cancelled it.
    func call<T: Sendable>(
        prepare: () async throws -> Bool,
        stillWanted: () -> Bool = { true },
        send call: (C.Instant) async -> T
    ) async throws -> T? {
        let warming = await warmUp.enter()
        do {
            var slot = try await limiter.acquire(lead: warming ? .zero : sendLead)
            guard try await prepare() else {
                if warming { await warmUp.done() }
                return nil
            }
            var stamped = slot
            while true {
                try await clock.sleep(until: slot, tolerance: nil)
                let now = clock.now
                if now <= slot.advanced(by: margin) {
                    if now > slot {
                        limiter.delayStart(slot, to: now)
                        stamped = now
                    }
                    break
                }
                // Late for its slot (a stalled commit, a busy machine): a new slot, not the old one.
                lateStarts.withLock { $0 += 1 }
                slot = try await limiter.acquire(lead: .zero)
                stamped = slot
            }
            guard stillWanted() else {
                if warming { await warmUp.done() }
                return nil
            }
            let started = clock.now
            // The warm-up's start is re-stamped when its request really leaves (SendObserving):
            // it waits for the process's first connection, and goes alone, so "the next
            // request" is its own. Later calls go on pooled connections with their bodies in
            // one write.
            let sendStamp = SendStamp(limiter: limiter, clock: clock, stamped: stamped)
            if warming { sendObserver?.observeNextSend { sendStamp.sent() } }
            let result = await call(started)
            let ended = clock.now
            latencies.withLock { $0.record(started.duration(to: ended).seconds) }
            if warming {
                limiter.delayStart(sendStamp.current, to: ended)
                await warmUp.done()
            }
            return result
        } catch {
            if warming { await warmUp.done() }
            throw error
        }
    }
}

/// Moves a call's start to the instant its request leaves the process, once.
final class SendStamp<C: Clock>: Sendable where C.Duration == Duration {
    private let limiter: RateLimiter<C>
    private let clock: C
    private let state: Mutex<(start: C.Instant, sent: Bool)>

    init(limiter: RateLimiter<C>, clock: C, stamped: C.Instant) {
        self.limiter = limiter
        self.clock = clock
        self.state = Mutex((stamped, false))
    }

    /// The start as the limiter now counts it.
    var current: C.Instant { state.withLock { $0.start } }

    /// The request is leaving now (called once per request; later calls do nothing).
    func sent() {
        let now = clock.now
        state.withLock { state in
            guard !state.sent else { return }
            state.sent = true
            // Sub-millisecond hand-offs are not worth a move.
            guard now > state.start.advanced(by: .milliseconds(1)) else { return }
            limiter.recordSend(state.start, at: now)
            state.start = now
        }
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

/// A seeded generator shared by the workers.
final class LockedRandom: Sendable {
    private let state: Mutex<SplitMix64>

    init(seed: UInt64) { state = Mutex(SplitMix64(seed: seed)) }

    func withGenerator<T>(_ body: (inout SplitMix64) -> T) -> T {
        state.withLock { body(&$0) }
    }
}
