import Synchronization

/// Counters the runner updates and the progress line reads; lock-protected, cheap.
public final class RunProgress: Sendable {
    /// A consistent copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        /// Jobs in the queue when the run started (queued + uncertain), plus those imported
        /// while it goes on.
        public var total = 0
        /// Done and failed in the database before this run (for the overall figures).
        public var doneBefore = 0
        public var failedBefore = 0
        /// Jobs imported while the run went on, picked up by it.
        public var pickedUp = 0
        /// Until when (wall clock) the limiter waits after a 429.
        public var rateLimitedUntil: Double?
        public var done = 0
        public var failed = 0
        public var retries = 0
        public var rateLimited = 0
        public var calls = 0
        public var verified = 0
        public var inFlight = 0
        /// Checks found rows they could not settle (ambiguous, no live-room URL): those jobs
        /// stay uncertain.
        public var undecided = 0
        /// Uncertain jobs waiting for their check (the settle rule), and when the next is due
        /// (wall clock).
        public var checksWaiting = 0
        public var nextCheckAt: Double?
        /// Set while the run is paused: why (`connection refused`, the vendor's words).
        public var unreachable: String?
        /// What the pause is: "API unreachable", "the API answers slower than --request-timeout",
        /// "the API is in trouble".
        public var pauseHeadline: String?
        /// When the outage began, and when the run next tries the API (wall clock, seconds).
        public var unreachableSince: Double?
        public var nextProbeAt: Double?
        /// The other bulkreg processes drawing from this API key's budget now (their labels:
        /// database paths, command names).
        public var sharedWith: [String] = []
        public var remaining: Int { max(0, total - done - failed) }

        public init() {}
        /// Done in the whole database, out of every lead to register (done, failed, left).
        public var overallDone: Int { doneBefore + done }
        public var overallTotal: Int { doneBefore + failedBefore + total }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
