/// Hands jobs to workers in FIFO order (lowest job id first), including jobs that come back
/// for a retry once their backoff has passed, and tells workers when everything is done.
///
/// Jobs are read from the store a page at a time (so a million-job queue costs one page of
/// memory), and workers that find nothing ready wait here, without polling, until a job
/// becomes ready, the queue drains, or the run stops.
actor Scheduler<C: Clock> where C.Duration == Duration {
    /// What a worker should do with a job.
    enum Work: Sendable {
        /// Send the register call.
        case register(Job)
        /// An earlier call may have reached the vendor: ask `registrants` first (`confirming`:
        /// a first check found nothing; this one, a settle time later, confirms it).
        case verify(Job, confirming: Bool)

        var job: Job {
            switch self {
            case .register(let job), .verify(let job, _): return job
            }
        }

        var isCheck: Bool {
            if case .verify = self { return true }
            return false
        }
    }

    private struct Delayed {
        var work: Work
        var readyAt: C.Instant
    }

    private let clock: C
    private let pageSize: Int
    private let loadPage: @Sendable (_ after: Int, _ limit: Int) async throws -> [Job]
    private var fresh: [Job] = []
    private var freshHead = 0
    private var cursor = 0
    private var exhausted = false
    private var loading = false
    /// When the queue last read short (jobs imported since are looked for again), and whether
    /// the look made once everything else was finished found nothing: only then is the run over.
    private var exhaustedAt: C.Instant?
    private var finalLookDone = false
    /// How often an exhausted queue is read again while work goes on (a concurrent import).
    let relookEvery: Duration = .seconds(5)
    private var delayed: [Delayed] = []
    private var waiters: [CheckedContinuation<Work?, Never>] = []
    private var active = 0
    private var activeRegisters = 0
    /// Checks handed out at once, at most: a check waits for a registrants pass, and must not
    /// take the workers that registrations need.
    let maxActiveChecks: Int
    private var stopping = false
    private var timerDeadline: C.Instant?
    private(set) var loadError: (any Error)?
    /// Told of every page read (the run's progress counts jobs imported meanwhile).
    private var onPage: (@Sendable ([Job]) -> Void)?

    func observePages(_ body: @escaping @Sendable ([Job]) -> Void) { onPage = body }
    // An outage (the API cannot be reached): nothing is handed out until `outageUntil`, then
    // one job alone, the probe, until a call reaches the API again (`reachable()`) or the
    // probe fails too (the next, longer pause). A million queued jobs wait in the queue, not
    // in `delayed`, and the dead host sees one call per pause, not 20 a second.
    private var outageLevel = 0
    private var outageUntil: C.Instant?
    private var probeOut = false

    init(
        clock: C,
        pageSize: Int = 512,
        maxActiveChecks: Int = 32,
        loadPage: @escaping @Sendable (_ after: Int, _ limit: Int) async throws -> [Job]
    ) {
        self.clock = clock
        self.pageSize = pageSize
        self.maxActiveChecks = maxActiveChecks
        self.loadPage = loadPage
    }

    /// Adds jobs that must be verified before being sent again (from a previous run).
    func addUncertain(_ jobs: [Job], readyAt: (Job) -> C.Instant) {
        for job in jobs { delayed.append(Delayed(work: .verify(job, confirming: false), readyAt: readyAt(job))) }
        dispatch()
    }

    /// The next job to work on, or nil when the queue is drained or the run is stopping.
    func next() async -> Work? {
        if stopping { return nil }
        return await withCheckedContinuation { continuation in
            waiters.append(continuation)
            dispatch()
        }
    }

    /// The worker is finished with a job for good (`work` is what it was handed).
    func finished(_ work: Work) {
        release(work)
        probeOut = false
        dispatch()
    }

    /// The worker gives a job back, to be handed out again at `readyAt` as `next`.
    /// `handedOut` is what the worker was given.
    func later(_ next: Work, readyAt: C.Instant, handedOut: Work) {
        release(handedOut)
        probeOut = false
        delayed.append(Delayed(work: next, readyAt: readyAt))
        dispatch()
    }

    private func release(_ work: Work) {
        active -= 1
        if !work.isCheck { activeRegisters -= 1 }
    }

    /// Pauses the whole run (the vendor keeps timing out or answering trouble), like an
    /// outage: call it before handing the job back. Returns the instant the pause ends.
    @discardableResult
    func pauseRun(pause: @Sendable (Int) -> Duration) -> C.Instant {
        let now = clock.now
        if outageUntil == nil || probeOut {
            outageLevel += 1
            outageUntil = now.advanced(by: pause(outageLevel))
            probeOut = false
        }
        return outageUntil ?? now
    }

    /// True when nothing is left but checks of uncertain jobs (none queued, none being sent).
    var onlyChecksLeft: Bool {
        exhausted && !loading && freshHead == fresh.count && activeRegisters == 0
            && delayed.allSatisfy { $0.work.isCheck }
    }

    /// Checks waiting for their time, and the earliest.
    var waitingChecks: (count: Int, next: C.Instant?) {
        let checks = delayed.filter { $0.work.isCheck }
        return (checks.count, checks.map(\.readyAt).min())
    }

    /// The worker's call did not reach the API (refused, DNS, TLS, connect timeout): the job
    /// goes back and the whole run pauses. The first failure, and each failed probe, starts
    /// a longer pause (`pause(level)` for level 1, 2, ...); failures of calls that were
    /// already in flight do not. Returns the instant the pause ends.
    @discardableResult
    func unreachable(_ work: Work, pause: @Sendable (Int) -> Duration) -> C.Instant {
        release(work)
        let now = clock.now
        if outageUntil == nil || probeOut {
            outageLevel += 1
            outageUntil = now.advanced(by: pause(outageLevel))
            probeOut = false
        }
        delayed.append(Delayed(work: work, readyAt: now))
        dispatch()
        return outageUntil ?? now
    }

    /// A call reached the API: an outage, if any, is over.
    func reachable() {
        guard outageLevel > 0 else { return }
        outageLevel = 0
        outageUntil = nil
        probeOut = false
        dispatch()
    }

    /// Hands out nothing more; waiting workers get nil.
    func stop() {
        stopping = true
        dispatch()
    }

    // MARK: -

    private func dispatch() {
        if stopping || loadError != nil {
            let all = waiters
            waiters.removeAll()
            for w in all { w.resume(returning: nil) }
            return
        }
        let now = clock.now
        var allowed = Int.max
        if let until = outageUntil { allowed = now < until || probeOut ? 0 : 1 }
        while allowed > 0, !waiters.isEmpty, let work = take(now: now) {
            active += 1
            if !work.isCheck { activeRegisters += 1 }
            allowed -= 1
            if outageUntil != nil { probeOut = true }
            waiters.removeFirst().resume(returning: work)
        }
        if !exhausted && !loading && fresh.count - freshHead < pageSize / 4 {
            startLoading()
        }
        if exhausted && !loading, let at = exhaustedAt, at.duration(to: now) >= relookEvery {
            // Jobs imported while the run goes on are picked up by it.
            startLoading()
        }
        if waiters.isEmpty { return }
        if exhausted && freshHead == fresh.count && delayed.isEmpty && active == 0 && !loading && !finalLookDone {
            // Everything else is finished: one more look at the queue before the run ends.
            finalLookDone = true
            startLoading()
            return
        }
        if exhausted && freshHead == fresh.count && delayed.isEmpty && active == 0 && !loading {
            let all = waiters
            waiters.removeAll()
            for w in all { w.resume(returning: nil) }
            return
        }
        if let until = outageUntil {
            // Paused: wake at its end. Probe out: its outcome dispatches again. Pause over and
            // nothing ready yet: wake when the earliest job is.
            if now < until {
                armTimer(until)
                return
            }
            if probeOut { return }
        }
        let checksFull = active - activeRegisters >= maxActiveChecks
        if let earliest = delayed.filter({ !checksFull || !$0.work.isCheck }).map(\.readyAt).min() {
            armTimer(earliest)
        }
    }

    /// The ready job with the lowest id, from the page or the delayed set.
    private func take(now: C.Instant) -> Work? {
        var best: Int?
        var bestID = Int.max
        let checksFull = active - activeRegisters >= maxActiveChecks
        for (i, d) in delayed.enumerated()
        where d.readyAt <= now && d.work.job.id < bestID && !(checksFull && d.work.isCheck) {
            best = i
            bestID = d.work.job.id
        }
        if freshHead < fresh.count, fresh[freshHead].id < bestID {
            let job = fresh[freshHead]
            freshHead += 1
            if freshHead > 4096 && freshHead * 2 > fresh.count {
                fresh.removeFirst(freshHead)
                freshHead = 0
            }
            return .register(job)
        }
        if let best { return delayed.remove(at: best).work }
        return nil
    }

    private func startLoading() {
        loading = true
        let after = cursor
        let limit = pageSize
        let load = loadPage
        Task {
            do {
                let page = try await load(after, limit)
                self.loaded(page)
            } catch {
                self.loadFailed(error)
            }
        }
    }

    private func loaded(_ page: [Job]) {
        loading = false
        exhausted = page.count < pageSize
        if exhausted { exhaustedAt = clock.now }
        if !page.isEmpty { finalLookDone = false }
        if let last = page.last { cursor = last.id }
        if !page.isEmpty { onPage?(page) }
        fresh.append(contentsOf: page)
        dispatch()
    }

    private func loadFailed(_ error: any Error) {
        loading = false
        loadError = error
        dispatch()
    }

    private func armTimer(_ deadline: C.Instant) {
        if let current = timerDeadline, current <= deadline, current > clock.now { return }
        timerDeadline = deadline
        let clock = self.clock
        Task {
            try? await clock.sleep(until: deadline, tolerance: nil)
            self.timerFired(deadline)
        }
    }

    private func timerFired(_ deadline: C.Instant) {
        if timerDeadline == deadline { timerDeadline = nil }
        dispatch()
    }
}
