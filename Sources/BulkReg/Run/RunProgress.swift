import Synchronization

/// Counters the runner updates and the progress line reads; lock-protected, cheap.
package final class RunProgress: Sendable {
    /// A consistent copy of the counters.
    package struct Snapshot: Sendable, Equatable {
        /// Jobs in the queue when the run started (queued + uncertain), plus those imported
        /// while it goes on.
        package var total = 0
        /// Done and failed in the database before this run (for the overall figures).
        package var doneBefore = 0
        package var failedBefore = 0
        /// Jobs imported while the run went on, picked up by it.
        package var pickedUp = 0
        /// Until when (wall clock) the limiter waits after a 429.
        package var rateLimitedUntil: Double?
        package var done = 0
        package var failed = 0
        package var retries = 0
        package var rateLimited = 0
        package var calls = 0
        package var verified = 0
        package var inFlight = 0
        /// Checks found rows they could not settle (ambiguous, no live-room URL): those jobs
        /// stay uncertain.
        package var undecided = 0
        /// Uncertain jobs waiting for their check (the settle rule), and when the next is due
        /// (wall clock).
        package var checksWaiting = 0
        package var nextCheckAt: Double?
        /// Set while the run is paused: why (`connection refused`, the vendor's words).
        package var unreachable: String?
        /// What the pause is: "API unreachable", "the API answers slower than --request-timeout",
        /// "the API is in trouble".
        package var pauseHeadline: String?
        /// When the outage began, and when the run next tries the API (wall clock, seconds).
        package var unreachableSince: Double?
        package var nextProbeAt: Double?
        /// The other bulkreg processes drawing from this API key's budget now (their labels:
        /// database paths, command names).
        package var sharedWith: [String] = []
        /// Since when (wall clock) the run waits for another process's write to the database
        /// (an import of millions of rows, a `sqlite3` shell); nil while it does not.
        package var databaseBusySince: Double?
        package var remaining: Int { max(0, total - done - failed) }

        package init() {}
        /// Done in the whole database, out of every lead to register (done, failed, left).
        package var overallDone: Int { doneBefore + done }
        package var overallTotal: Int { doneBefore + failedBefore + total }
    }

    private let state = Mutex(Snapshot())

    package init() {}

    package func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    package var snapshot: Snapshot { state.withLock { $0 } }
}
