import Pacing
import PacingTesting
import Synchronization
import Testing

typealias Limiter = RateLimiter<ManualClock>

/// The limiter in its burst form (`evenSpacing: false`): most tests here pin down the
/// sliding-window rule itself, grant by grant; `EvenSpacingTests` covers the spaced form the
/// runner uses by default.
func makeLimiter(
    clock: ManualClock,
    configuration: RateLimiterConfiguration = RateLimiterConfiguration(),
    random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
) -> Limiter {
    var burst = configuration
    burst.evenSpacing = false
    return Limiter(clock: clock, configuration: burst, random: random)
}
typealias Instant = ManualClock.Instant

/// A reference-type, thread-safe value for sharing with child tasks.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Awaits an unstructured task's value, cancelling the task if the awaiting (test) task is
/// cancelled — e.g. by a time limit — so a broken limiter makes the test fail instead of hang.
func join<T: Sendable>(_ task: Task<T, any Error>) async throws -> T {
    try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}

/// `Duration` → seconds as `Double`.
func secs(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) + Double(a) / 1e18
}

/// The instant `d` after the origin.
func at(_ d: Duration) -> Instant { Instant(offset: d) }

/// Expects that no half-open interval of length `span` contains more than `rate` of `grants`
/// (equivalently: the i-th and (i+rate)-th sorted grants are at least `span` apart).
func expectSlidingWindow(
    _ grants: [Instant],
    rate: Int,
    span: Duration,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let g = grants.sorted()
    var violation: (Int, Duration)?
    if g.count > rate {
        for i in 0..<(g.count - rate) where g[i].duration(to: g[i + rate]) < span {
            violation = (i, g[i].duration(to: g[i + rate]))
            break
        }
    }
    #expect(
        violation == nil,
        "\(rate + 1) grants within \(String(describing: violation?.1)) starting at grant \(String(describing: violation?.0)) (\(g.count) grants)",
        sourceLocation: sourceLocation
    )
}

/// Sustained throughput of saturated, bursty grants: grants after the first burst divided by the
/// time from the first to the last grant.
func sustainedThroughput(_ grants: [Instant], rate: Int) -> Double {
    let g = grants.sorted()
    guard g.count > rate, let first = g.first, let last = g.last, first < last else { return 0 }
    return Double(g.count - rate) / secs(first.duration(to: last))
}

/// Closed-loop saturated demand: `workers` tasks each call `acquire()` again as soon as they are
/// granted. Time advances only when the system is quiescent: the limiter's leader is suspended on
/// the clock and all `workers` are queued. (If the clock reports a sleeper at t2 — necessarily the
/// leader, which cannot wake before time advances — and later at t3 the limiter reports all
/// workers queued, then at t3 nobody can make progress.) `beforeAdvance` runs at every quiescent
/// point with the grants so far; returning `false` stops the run (all workers are then cancelled).
func runClosedLoop(
    limiter: Limiter,
    clock: ManualClock,
    workers: Int,
    beforeAdvance: ([Instant]) -> Bool
) async -> [Instant] {
    let grants = Shared<[Instant]>([])
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<workers {
            group.addTask {
                while true {
                    do {
                        let t = try await limiter.acquire()
                        let count = grants.withLock {
                            $0.append(t)
                            return $0.count
                        }
                        // A broken limiter that never suspends must not starve the driver.
                        if count > 1_000_000 { return }
                        await Task.yield()
                    } catch {
                        return
                    }
                }
            }
        }
        while !Task.isCancelled {
            await clock.waitForSleepers(count: 1)
            await limiter.waitForWaiters(count: workers)
            if Task.isCancelled {
                Issue.record("closed loop cancelled (time limit?) before quiescence")
                break
            }
            let snapshot = grants.withLock { $0 }
            guard beforeAdvance(snapshot) else { break }
            clock.advanceToNextDeadline()
        }
        group.cancelAll()
    }
    return grants.withLock { $0 }.sorted()
}

/// Waits, yielding (never sleeping), until all `calls` acquire() calls are accounted for by the
/// limiter (granted or queued) and the limiter is idle: nobody queued, or the leader suspended on
/// the clock (the only sleeper in these tests). Both conditions are stable until time advances.
func settle(limiter: Limiter, clock: ManualClock, calls: Int) async {
    var spins = 0
    while true {
        let s = limiter.statistics
        if s.starts + s.waiting + s.cancelled == calls && (s.waiting == 0 || clock.sleepers() == 1) { return }
        spins += 1
        if spins > 20_000_000 || Task.isCancelled {
            Issue.record("limiter did not settle: \(s), sleepers \(clock.sleepers())")
            return
        }
        await Task.yield()
    }
}

/// Drives one `acquire()` per arrival instant (FIFO call order = arrival order) through the
/// manual clock, processing due limiter deadlines before arrivals at the same instant, and
/// returns the grant instant of each arrival (`nil` if it failed).
func runArrivals(
    limiter: Limiter,
    clock: ManualClock,
    arrivals: [Instant],
    atQuiescence: (Int) -> Void = { _ in }
) async -> [Instant?] {
    var result = [Instant?](repeating: nil, count: arrivals.count)
    await withTaskGroup(of: (Int, Instant?).self) { group in
        var next = 0
        while !Task.isCancelled {
            atQuiescence(next)
            let deadline = clock.nextDeadline
            if let deadline, next == arrivals.count || deadline <= arrivals[next] {
                clock.advance(to: deadline)
            } else if next < arrivals.count {
                clock.advance(to: arrivals[next])
                let index = next
                group.addTask { (index, try? await limiter.acquire()) }
                next += 1
            } else {
                break
            }
            await settle(limiter: limiter, clock: clock, calls: next)
        }
        for await (index, instant) in group { result[index] = instant }
    }
    return result
}

/// Reference model of a FIFO, greedy sliding-window limiter with a constant rate:
/// `g[i] = max(a[i], g[i-1], g[i-rate] + span)`.
func modelGrants(arrivals: [Instant], rate: Int, span: Duration) -> [Instant] {
    var g: [Instant] = []
    g.reserveCapacity(arrivals.count)
    for (i, a) in arrivals.enumerated() {
        var t = a
        if let previous = g.last, previous > t { t = previous }
        if i >= rate, g[i - rate].advanced(by: span) > t { t = g[i - rate].advanced(by: span) }
        g.append(t)
    }
    return g
}

/// Seeded arrival schedule: bursts (gap 0) with probability `burst`, otherwise a uniform gap in
/// `0...maxGap` milliseconds.
func randomArrivals(count: Int, seed: UInt64, maxGapMilliseconds: Int, burst: Double) -> [Instant] {
    var rng = SplitMix64(seed: seed)
    var t = Instant.zero
    var out: [Instant] = []
    for _ in 0..<count {
        if Double.random(in: 0..<1, using: &rng) >= burst {
            t = t.advanced(by: .milliseconds(Int.random(in: 0...maxGapMilliseconds, using: &rng)))
        }
        out.append(t)
    }
    return out
}
