import Synchronization

/// Counters the runner updates and the progress line reads; lock-protected, cheap.
public final class RunProgress: Sendable {
    /// A consistent copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        /// Jobs in the queue when the run started (queued + uncertain).
        public var total = 0
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
        public var remaining: Int { max(0, total - done - failed) }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
