import Pacing

/// How `bulkreg run` behaves.
package struct RunConfiguration: Sendable {
    /// The most calls in flight at once; nil: as many as the latency needs (Little's law),
    /// up to rate × request timeout.
    package var workers: Int?
    /// Call starts per second across all workers; 0 turns the limiter off.
    package var rate: Int
    /// Register attempts (vendor trouble, calls that may have reached it) before a job fails.
    package var maxAttempts: Int
    /// The client's request timeout.
    package var requestTimeout: Duration
    /// Backoff between attempts.
    package var backoff: Backoff
    /// Seed for jitter (tests pass a fixed one).
    package var seed: UInt64
    /// How far ahead of its slot a register call commits its intent (see `CallGate`).
    package var sendLead: Duration = .milliseconds(250)
    /// Safety margin added to the 1-second window, against network jitter: sustained
    /// throughput is rate / (1 s + margin). 10 ms → 19.8 calls/s (5 ms earned about one 429
    /// per 10,000 calls on loopback at 2-4 s latency: BENCHMARKS.md).
    package var margin: Duration = .milliseconds(10)
    /// The least settle time: a call that may have reached the vendor is believed absent
    /// only after max(2 × request timeout, 3 × p99 latency, this), confirmed a settle time
    /// later (RELIABILITY.md "At most once").
    package var settleMinimum: Duration = .seconds(60)
    /// When only checks are left and they have kept failing this long, the run ends with
    /// those jobs `uncertain` (exit 3).
    package var checkPatience: Duration = .seconds(600)
    /// Process id and host recorded in the database's runner lease.
    package var leaseOwner: (pid: Int32, host: String)?
    /// How often the lease's heartbeat is written.
    package var heartbeatEvery: Duration = .seconds(5)

    package init(
        workers: Int? = nil,
        rate: Int = 20,
        maxAttempts: Int = 6,
        requestTimeout: Duration = .seconds(30),
        backoff: Backoff = Backoff(),
        seed: UInt64 = UInt64.random(in: 1...UInt64.max)
    ) {
        self.workers = workers
        self.rate = rate
        self.maxAttempts = maxAttempts
        self.requestTimeout = requestTimeout
        self.backoff = backoff
        self.seed = seed
    }

    /// The most calls ever in flight: `--workers`, or rate × request timeout plus headroom
    /// (calls past the timeout are abandoned, so more cannot be needed).
    package var maxInFlight: Int {
        if let workers { return max(1, workers) }
        if rate == 0 { return 64 }
        return max(8, Int((Double(rate) * requestTimeout.seconds).rounded(.up)) + rate)
    }
}

/// How a run ended.
package enum RunOutcome: Sendable, Equatable {
    /// Nothing left in the queue.
    case drained(RunProgress.Snapshot)
    /// Stopped on request (signal) with work left.
    case stopped(RunProgress.Snapshot)
    /// Only checks were left and they kept failing for `checkPatience`: those jobs stay
    /// `uncertain`, checked first by the next run.
    case checksPending(RunProgress.Snapshot)
}
