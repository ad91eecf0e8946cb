import Pacing
import Synchronization

/// A `Clock` whose time only moves when a test tells it to.
///
/// `sleep(until:)` suspends the caller until ``advance(by:)``, ``advance(to:)`` or
/// ``advanceToNextDeadline()`` moves ``now`` to or past the deadline. No real time ever passes.
///
/// To avoid races, a test should only advance time once the tasks it drives are suspended:
/// ``waitForSleepers(count:)`` suspends (without real sleeping: it is resumed by the sleeper's
/// registration) until at least `count` sleeps are pending, and ``sleepers()`` returns the current
/// number synchronously.
///
/// - Sleeps whose deadline is not after ``now`` return immediately without registering.
/// - A pending sleep whose task is cancelled throws `CancellationError` promptly and is removed.
/// - A task that is already cancelled when it calls `sleep` throws `CancellationError` at once.
/// - Time never moves backwards: advancing to an earlier instant is a no-op.
/// - All methods are thread-safe (state guarded by a `Mutex`).
public final class ManualClock: Clock, Sendable {
    /// An instant of a ``ManualClock``: an offset from the clock's origin.
    public struct Instant: InstantProtocol, Sendable, Hashable, CustomStringConvertible {
        /// Offset from the clock's origin (`.zero`).
        public var offset: Swift.Duration

        /// Creates the instant `offset` after the clock's origin.
        public init(offset: Swift.Duration = .zero) {
            self.offset = offset
        }

        /// The clock's origin.
        public static var zero: Instant { Instant(offset: .zero) }

        /// The instant `duration` after this one.
        public func advanced(by duration: Swift.Duration) -> Instant {
            Instant(offset: offset + duration)
        }

        /// The duration from this instant to `other` (negative if `other` is earlier).
        public func duration(to other: Instant) -> Swift.Duration {
            other.offset - offset
        }

        /// Orders instants by offset.
        public static func < (lhs: Instant, rhs: Instant) -> Bool {
            lhs.offset < rhs.offset
        }

        /// The offset, e.g. `"1.005 seconds"`.
        public var description: String { "\(offset)" }
    }

    /// The clock's duration type.
    public typealias Duration = Swift.Duration

    private struct Sleeper {
        let id: UInt64
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State: CountWatching {
        var now: Instant
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        var watches = CountWatches()

        var watchedCount: Int { sleepers.count }

        /// Sets `now` to `instant` and removes the sleepers now due, in deadline then FIFO order.
        mutating func moveTime(to instant: Instant) -> [Sleeper] {
            guard instant > now else { return [] }
            now = instant
            let due = sleepers.filter { $0.deadline <= instant }
            guard !due.isEmpty else { return [] }
            sleepers.removeAll { $0.deadline <= instant }
            return due.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        }
    }

    private let state: Mutex<State>

    /// Creates a clock whose current time is `now` (default: the origin).
    public init(now: Instant = .zero) {
        state = Mutex(State(now: now))
    }

    /// The current (manual) time.
    public var now: Instant { state.withLock { $0.now } }

    /// One nanosecond.
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Suspends until the clock is advanced to or past `deadline`; `tolerance` is ignored.
    ///
    /// Returns immediately if `deadline <= now`. Throws `CancellationError` if the task is (or
    /// becomes) cancelled while waiting; the sleep is then removed from the pending sleeps.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Action {
                    case resume, cancel
                    case registered([CheckedContinuation<Void, Never>])
                }
                let action = state.withLock { state -> Action in
                    if deadline <= state.now { return .resume }
                    // Checked under the lock: either we see the cancellation here, or the
                    // cancellation handler runs after we registered and finds the sleeper.
                    if Task.isCancelled { return .cancel }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return .registered(state.watches.takeReached(by: state.sleepers.count))
                }
                switch action {
                case .resume:
                    continuation.resume()
                case .cancel:
                    continuation.resume(throwing: CancellationError())
                case .registered(let watches):
                    for watch in watches { watch.resume() }
                }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index).continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` (no-op if not positive) and resumes every sleeper whose
    /// deadline is reached, earliest deadline first.
    public func advance(by duration: Duration) {
        let due = state.withLock { state in state.moveTime(to: state.now.advanced(by: duration)) }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time forward to `instant` (no-op if it is not after ``now``) and resumes every sleeper
    /// whose deadline is reached, earliest deadline first.
    public func advance(to instant: Instant) {
        let due = state.withLock { $0.moveTime(to: instant) }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time to the earliest pending deadline and resumes the sleepers due then.
    ///
    /// - Returns: the new ``now``, or `nil` (time unchanged) if nobody is sleeping.
    @discardableResult
    public func advanceToNextDeadline() -> Instant? {
        let (instant, due) = state.withLock { state -> (Instant?, [Sleeper]) in
            guard let next = state.sleepers.map(\.deadline).min() else { return (nil, []) }
            return (next, state.moveTime(to: next))
        }
        for sleeper in due { sleeper.continuation.resume() }
        return instant
    }

    /// The earliest pending sleep deadline, or `nil` if nobody is sleeping.
    public var nextDeadline: Instant? {
        state.withLock { $0.sleepers.map(\.deadline).min() }
    }

    /// The number of pending (suspended, not yet resumed or cancelled) sleeps.
    public func sleepers() -> Int {
        state.withLock { $0.sleepers.count }
    }

    /// Suspends until at least `count` sleeps are pending, without real sleeping: the caller is
    /// resumed by the registration of the `count`-th sleeper. Returns at once if already so.
    ///
    /// If the waiting task is cancelled (e.g. by a test time limit) it returns early; check
    /// ``sleepers()`` or `Task.isCancelled` afterwards if that matters.
    public func waitForSleepers(count: Int) async {
        await state.waitForCount(atLeast: count)
    }
}

extension Clocks where C == ManualClock {
    /// A manual clock and a wall clock that moves with it: `wallStart` seconds since 1970 at
    /// the manual clock's origin.
    public static func manual(_ clock: ManualClock, wallStart: Double = 1_800_000_000) -> Clocks {
        Clocks(monotonic: clock, wall: { wallStart + Double(clock.now.offset.nanoseconds) / 1e9 })
    }
}

extension SharedStarts where C == ManualClock {
    /// Tests: a manual clock's offset is the budget's time (every simulated process shares one
    /// manual clock).
    public init(budget: SharedBudget) {
        self.init(
            budget: budget,
            toNanos: { $0.offset.nanoseconds },
            fromNanos: { ManualClock.Instant(offset: .nanoseconds($0)) }
        )
    }
}
