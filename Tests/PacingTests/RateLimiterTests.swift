import Pacing
import PacingTesting
import Synchronization
import Testing

@Suite("RateLimiter: sliding window, FIFO, cancellation", .timeLimit(.minutes(1)))
struct RateLimiterTests {
    @Test func defaultsAre20PerSecondWith5msMargin() {
        let config = RateLimiterConfiguration()
        #expect(config.rate == 20)
        #expect(config.window == .seconds(1))
        #expect(config.margin == .milliseconds(5))
        let sustained = try! #require(config.sustainedRatePerSecond)
        #expect(sustained >= 19.8)
        #expect(abs(sustained - 20 / 1.005) < 1e-9)
        #expect(RateLimiterConfiguration.unlimited.sustainedRatePerSecond == nil)
    }

    @Test func burstOfRateThenNextSlotAtWindowPlusMargin() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock)
        for _ in 0..<20 {
            #expect(try await limiter.acquire() == .zero)  // fast path, never suspends
        }
        #expect(limiter.statistics.waiting == 0)
        #expect(limiter.nextAvailableStart == at(.milliseconds(1005)))
        let task = Task { try await limiter.acquire() }
        await limiter.waitForWaiters(count: 1)
        await clock.waitForSleepers(count: 1)  // the leader sleeps until the slot, once
        #expect(clock.nextDeadline == at(.milliseconds(1005)))
        clock.advance(to: at(.milliseconds(1004)))
        #expect(limiter.statistics.waiting == 1)
        clock.advance(to: at(.milliseconds(1005)))
        #expect(try await join(task) == at(.milliseconds(1005)))
        let s = limiter.statistics
        #expect(s.starts == 21 && s.waiting == 0 && s.cancelled == 0)
    }

    @Test func unlimitedGrantsEverythingImmediately() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: .unlimited)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    for _ in 0..<250 {
                        let t = try await limiter.acquire()
                        #expect(t == .zero)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(limiter.rateLimited() == .zero)  // no pause when unlimited
        let s = limiter.statistics
        #expect(s.starts == 10_000)
        #expect(s.rateLimitedSignals == 1)
        #expect(s.pausedUntil == nil && s.effectiveRate == nil && s.waiting == 0)
        #expect(limiter.effectiveRate == nil)
        #expect(clock.sleepers() == 0)
        await limiter.waitForWaiters(count: 5)  // returns at once when unlimited
    }

    @Test func continuousClockSmoke() async throws {
        // Real clock, but no waiting: the limit is far above the demand.
        let limiter = RateLimiter(configuration: RateLimiterConfiguration(rate: 1_000_000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask { for _ in 0..<250 { try await limiter.acquire() } }
            }
            try await group.waitForAll()
        }
        #expect(limiter.statistics.starts == 10_000)
        #expect(limiter.statistics.waiting == 0)
    }

    @Test func grantsInCallOrder() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: RateLimiterConfiguration(rate: 1, margin: .zero))
        try await limiter.acquire()
        var tasks: [Task<Instant, any Error>] = []
        for i in 0..<8 {
            tasks.append(Task { try await limiter.acquire() })
            await limiter.waitForWaiters(count: i + 1)  // fixes the call order
        }
        for _ in 0..<8 {
            await clock.waitForSleepers(count: 1)
            clock.advanceToNextDeadline()
        }
        for (i, task) in tasks.enumerated() {
            #expect(try await join(task) == at(.seconds(i + 1)))
        }
    }

    @Test func cancelledQueuedWaiterIsRemovedAndConsumesNoSlot() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: RateLimiterConfiguration(rate: 1, margin: .zero))
        try await limiter.acquire()  // t = 0
        var tasks: [Task<Instant, any Error>] = []
        for i in 0..<4 {  // A (leader), B, C, D
            tasks.append(Task { try await limiter.acquire() })
            await limiter.waitForWaiters(count: i + 1)
        }
        await clock.waitForSleepers(count: 1)

        tasks[2].cancel()  // C: parked
        await #expect(throws: CancellationError.self) { try await join(tasks[2]) }
        #expect(limiter.statistics.waiting == 3)
        #expect(limiter.statistics.cancelled == 1)

        tasks[0].cancel()  // A: the leader, asleep on the clock
        await #expect(throws: CancellationError.self) { try await join(tasks[0]) }
        await clock.waitForSleepers(count: 1)  // B took over and sleeps until the same slot
        #expect(clock.nextDeadline == at(.seconds(1)))
        #expect(limiter.statistics.waiting == 2)
        #expect(limiter.statistics.cancelled == 2)

        clock.advanceToNextDeadline()
        #expect(try await join(tasks[1]) == at(.seconds(1)))
        await clock.waitForSleepers(count: 1)
        clock.advanceToNextDeadline()
        #expect(try await join(tasks[3]) == at(.seconds(2)))
        let s = limiter.statistics
        #expect(s.starts == 3 && s.waiting == 0 && s.cancelled == 2)
        #expect(clock.sleepers() == 0)
    }

    @Test func alreadyCancelledCallerThrowsEvenWithAFreeSlot() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock)
        await withTaskGroup(of: Bool.self) { group in
            group.cancelAll()
            group.addTask { (try? await limiter.acquire()) == nil }
            for await threw in group { #expect(threw) }
        }
        let s = limiter.statistics
        #expect(s.starts == 0 && s.cancelled == 1 && s.waiting == 0)
        #expect(try await limiter.acquire() == .zero)  // the slot is still free
    }

    @Test func cancellingEveryWaiterLeavesACleanLimiter() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: RateLimiterConfiguration(rate: 2))
        try await limiter.acquire()
        try await limiter.acquire()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<30 { group.addTask { _ = try? await limiter.acquire() } }
            await limiter.waitForWaiters(count: 30)
            await clock.waitForSleepers(count: 1)
            group.cancelAll()
        }
        let s = limiter.statistics
        #expect(s.waiting == 0 && s.cancelled == 30 && s.starts == 2)
        #expect(clock.sleepers() == 0)
        clock.advance(by: .seconds(2))
        #expect(try await limiter.acquire() == at(.seconds(2)))  // fast path again
    }

    @Test(arguments: [
        RateLimiterConfiguration(),  // 20 / 1 s + 5 ms
        RateLimiterConfiguration(margin: .milliseconds(50)),
        RateLimiterConfiguration(margin: .zero),
        RateLimiterConfiguration(rate: 7, window: .milliseconds(250), margin: .milliseconds(10)),
    ])
    func saturatedClosedLoopIsExactAndFast(config: RateLimiterConfiguration) async throws {
        let rate = try #require(config.rate)
        let span = config.window + config.margin
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: config)
        let workers = max(40, 2 * rate)
        var steps = 0
        let grants = await runClosedLoop(limiter: limiter, clock: clock, workers: workers) { grants in
            steps += 1
            return grants.count < 2_000
        }
        #expect(grants.count >= 2_000)
        expectSlidingWindow(grants, rate: rate, span: span)
        expectSlidingWindow(grants, rate: rate, span: config.window)
        // Saturated: exactly `rate` grants every `window + margin`, one clock wake-up per burst.
        let bursts = (grants.count + rate - 1) / rate
        #expect(steps == bursts)
        for (i, g) in grants.enumerated() {
            #expect(g == at(span * (i / rate)))
            if g != at(span * (i / rate)) { break }
        }
        let throughput = sustainedThroughput(grants, rate: rate)
        let ideal = try #require(config.sustainedRatePerSecond)
        #expect(throughput >= 0.99 * ideal)
        #expect(throughput <= ideal + 1e-9)
        if config == RateLimiterConfiguration() {
            #expect(throughput >= 0.99 * 20)  // product target: ≥ 19.8/s
        }
        let s = limiter.statistics
        #expect(s.starts == grants.count && s.waiting == 0 && s.cancelled == workers)
        #expect(clock.sleepers() == 0)
    }

    @Test(arguments: [
        (RateLimiterConfiguration(), UInt64(1), 100, 0.3),
        (RateLimiterConfiguration(), UInt64(2), 60, 0.2),
        (RateLimiterConfiguration(margin: .milliseconds(50)), UInt64(3), 80, 0.4),
        (RateLimiterConfiguration(rate: 3, window: .milliseconds(200), margin: .zero), UInt64(4), 90, 0.3),
        (RateLimiterConfiguration(rate: 1, margin: .milliseconds(7)), UInt64(5), 1_500, 0.2),
    ])
    func randomArrivalsMatchTheReferenceModel(
        config: RateLimiterConfiguration,
        seed: UInt64,
        maxGap: Int,
        burst: Double
    ) async throws {
        let rate = try #require(config.rate)
        let span = config.window + config.margin
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, configuration: config)
        let arrivals = randomArrivals(count: 2_500, seed: seed, maxGapMilliseconds: maxGap, burst: burst)
        let granted = await runArrivals(limiter: limiter, clock: clock, arrivals: arrivals)
        let grants = granted.compactMap { $0 }
        try #require(grants.count == arrivals.count)

        expectSlidingWindow(grants, rate: rate, span: span)
        expectSlidingWindow(grants, rate: rate, span: config.window)
        // FIFO: grant instants are non-decreasing in call order, never before the call.
        #expect(zip(grants, grants.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(zip(arrivals, grants).allSatisfy { $0 <= $1 })
        // Exactly the greedy FIFO sliding-window schedule: no slot is wasted, none is early.
        let model = modelGrants(arrivals: arrivals, rate: rate, span: span)
        let mismatch = zip(grants, model).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "first mismatch: \(String(describing: mismatch))")
        let s = limiter.statistics
        #expect(s.starts == arrivals.count && s.waiting == 0 && s.cancelled == 0)
    }
}
