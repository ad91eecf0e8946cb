import Pacing
import PacingTesting
import Testing

@Suite("RateLimiter: 429 pause and AIMD", .timeLimit(.minutes(1)))
struct RateLimiterAIMDTests {
    /// The limiter's jitter formula, replicated: uniform whole nanoseconds in `0...max`.
    func expectedJitter(_ rng: inout SplitMix64, max: Duration = .milliseconds(250)) -> Duration {
        .nanoseconds(
            Int64.random(
                in: 0...max.components.seconds * 1_000_000_000 + max.components.attoseconds / 1_000_000_000,
                using: &rng
            )
        )
    }

    @Test func noStartBeforePauseEnd() async throws {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, random: SplitMix64(seed: 42))
        for _ in 0..<5 { try await limiter.acquire() }
        clock.advance(to: at(.milliseconds(300)))
        let pauseEnd = limiter.rateLimited()
        var replica = SplitMix64(seed: 42)
        #expect(pauseEnd == at(.milliseconds(1300)).advanced(by: expectedJitter(&replica)))
        #expect(pauseEnd >= at(.milliseconds(1300)) && pauseEnd <= at(.milliseconds(1550)))
        let s = limiter.statistics
        #expect(s.pausedUntil == pauseEnd)
        #expect(s.pauses == 1 && s.rateLimitedSignals == 1)
        #expect(s.decreases == 0 && s.effectiveRate == 20)  // a lone 429 at full rate only pauses
        #expect(limiter.nextAvailableStart == pauseEnd)

        let task = Task { try await limiter.acquire() }
        await limiter.waitForWaiters(count: 1)
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline == pauseEnd)
        clock.advance(to: pauseEnd.advanced(by: .nanoseconds(-1)))
        #expect(limiter.statistics.waiting == 1)
        clock.advance(to: pauseEnd)
        #expect(try await join(task) == pauseEnd)
        #expect(limiter.statistics.pausedUntil == nil)
    }

    @Test func pauseHitsQueuedWaitersAndTheLeaderReSleeps() async throws {
        let clock = ManualClock()
        let config = RateLimiterConfiguration(rate: 2, margin: .zero, pauseJitter: .zero)
        let limiter = makeLimiter(clock: clock, configuration: config)
        try await limiter.acquire()
        try await limiter.acquire()
        var tasks: [Task<Instant, any Error>] = []
        for i in 0..<3 {
            tasks.append(Task { try await limiter.acquire() })
            await limiter.waitForWaiters(count: i + 1)
        }
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline == at(.seconds(1)))
        clock.advance(to: at(.milliseconds(500)))
        #expect(limiter.rateLimited() == at(.milliseconds(1500)))
        // The leader wakes at its old deadline, sees the pause and sleeps again: no grant.
        clock.advanceToNextDeadline()
        await clock.waitForSleepers(count: 1)
        #expect(clock.now == at(.seconds(1)))
        #expect(clock.nextDeadline == at(.milliseconds(1500)))
        #expect(limiter.statistics.starts == 2)
        clock.advanceToNextDeadline()
        #expect(try await join(tasks[0]) == at(.milliseconds(1500)))
        #expect(try await join(tasks[1]) == at(.milliseconds(1500)))
        await clock.waitForSleepers(count: 1)
        clock.advanceToNextDeadline()
        #expect(try await join(tasks[2]) == at(.milliseconds(2500)))
    }

    @Test func pauseLengthIsOneSecondPlusBoundedSeededJitter() {
        let clock = ManualClock()
        let limiter = makeLimiter(clock: clock, random: SplitMix64(seed: 7))
        var replica = SplitMix64(seed: 7)
        var lengths: Set<Duration> = []
        for _ in 0..<300 {
            clock.advance(by: .seconds(30))  // calm: every 429 is a new episode at full rate
            let start = clock.now
            let end = limiter.rateLimited()
            let length = start.duration(to: end)
            #expect(length >= .seconds(1) && length <= .milliseconds(1250))
            #expect(length == .seconds(1) + expectedJitter(&replica))
            lengths.insert(length)
        }
        #expect(lengths.count > 250)  // the jitter is really used
        #expect(limiter.statistics.pauses == 300)
        #expect(limiter.statistics.decreases == 0)
        #expect(limiter.effectiveRate == 20)
    }

    @Test func multiplicativeDecreaseThenAdditiveIncrease() {
        let clock = ManualClock()
        let config = RateLimiterConfiguration(pauseJitter: .zero)
        let limiter = makeLimiter(clock: clock, configuration: config)

        // Episode 1 at full rate, after a calm start: pause only.
        #expect(limiter.rateLimited() == at(.seconds(1)))
        #expect(limiter.effectiveRate == 20)
        // A 429 during the pause (a request already in flight): same episode, pause extended.
        clock.advance(to: at(.milliseconds(500)))
        #expect(limiter.rateLimited() == at(.milliseconds(1500)))
        var s = limiter.statistics
        #expect(s.pauses == 1 && s.decreases == 0 && s.rateLimitedSignals == 2 && s.effectiveRate == 20)

        // Episode 2, 2 s after episode 1 (≤ 10 s): a repeat → ×0.5.
        clock.advance(to: at(.seconds(2)))
        #expect(limiter.rateLimited() == at(.seconds(3)))
        #expect(limiter.effectiveRate == 10)
        // No increase during the pause, nor in the first interval after it; then +1 per second.
        #expect(limiter.effectiveRate(at: at(.milliseconds(3999))) == 10)
        for k in 1...10 {
            #expect(limiter.effectiveRate(at: at(.seconds(3 + k))) == 10 + k)
            #expect(limiter.effectiveRate(at: at(.seconds(3 + k)).advanced(by: .milliseconds(999))) == 10 + k)
        }
        #expect(limiter.effectiveRate(at: at(.seconds(10_000))) == 20)  // never above `rate`

        // Episode 3 at 6.5 s, while still recovering (13): cut again, floor(13 × 0.5) = 6.
        clock.advance(to: at(.milliseconds(6500)))
        #expect(limiter.effectiveRate == 13)
        #expect(limiter.rateLimited() == at(.milliseconds(7500)))
        #expect(limiter.effectiveRate == 6)
        // Each new episode right when the previous pause ends (no recovery step yet):
        // 6 → 3 → 1 → 1 (minimum).
        for expected in [3, 1, 1] {
            clock.advance(by: .seconds(1))
            #expect(limiter.statistics.pausedUntil == nil)
            limiter.rateLimited()
            #expect(limiter.effectiveRate == expected)
        }
        s = limiter.statistics
        #expect(s.pauses == 6 && s.decreases == 5 && s.rateLimitedSignals == 7)
        // Recovery from 1 to 20: 19 steps of 1 s after the last pause (ends at 10.5 s).
        #expect(limiter.effectiveRate(at: at(.milliseconds(11_499))) == 1)
        #expect(limiter.effectiveRate(at: at(.milliseconds(11_500))) == 2)
        #expect(limiter.effectiveRate(at: at(.milliseconds(29_499))) == 19)
        #expect(limiter.effectiveRate(at: at(.milliseconds(29_500))) == 20)
        // A 429 after some recovery cuts from the recovered value: at 14.5 s the rate is 5 → 2.
        clock.advance(to: at(.milliseconds(14_500)))
        #expect(limiter.effectiveRate == 5)
        limiter.rateLimited()
        #expect(limiter.effectiveRate == 2)
        #expect(limiter.statistics.decreases == 6)

        // Long calm at full rate: the next 429 only pauses again.
        clock.advance(to: at(.seconds(60)))
        #expect(limiter.effectiveRate == 20)
        limiter.rateLimited()
        #expect(limiter.effectiveRate == 20)
        #expect(limiter.statistics.decreases == 6)
    }

    @Test func reducedRateIsEnforcedAndClimbsBack() async throws {
        let clock = ManualClock()
        let config = RateLimiterConfiguration(pauseJitter: .zero)
        let span = config.window + config.margin
        let limiter = makeLimiter(clock: clock, configuration: config)
        limiter.rateLimited()
        clock.advance(to: at(.seconds(2)))
        let pauseEnd = limiter.rateLimited()  // repeat: rate 10, recovering from 3 s
        #expect(limiter.effectiveRate == 10)
        let grants = await runClosedLoop(limiter: limiter, clock: clock, workers: 40) { _ in
            clock.now < at(.seconds(30))
        }
        #expect(grants.first == pauseEnd)
        expectSlidingWindow(grants, rate: 20, span: span)
        // Every grant respects the effective rate at its instant: at most `effectiveRate(at: g)`
        // grants (itself included) in (g - span, g].
        var lo = 0
        for (i, g) in grants.enumerated() {
            while grants[lo] <= g.advanced(by: .zero - span) { lo += 1 }
            let limit = try #require(limiter.effectiveRate(at: g))
            #expect(i - lo + 1 <= limit, "grant \(i) at \(g): \(i - lo + 1) in window, limit \(limit)")
            if i - lo + 1 > limit { break }
        }
        // The first burst is exactly 10, and the rate is back at 20 from 3 s + 10 s on.
        #expect(grants.filter { $0 == pauseEnd }.count == 10)
        // Back at full rate, saturated: every grant is followed by the 20th next exactly one
        // span later (20 per 1.005 s = 19.9/s).
        let firstLate = try #require(grants.firstIndex { $0 >= at(.seconds(15)) })
        var exact = true
        for i in firstLate..<(grants.count - 20) {
            exact = exact && grants[i + 20] == grants[i].advanced(by: span)
        }
        #expect(exact)
        #expect(grants.count - firstLate > 200)
        #expect(limiter.effectiveRate == 20)
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func random429sNeverBreakTheWindowOrThePause(seed: UInt64) async throws {
        let clock = ManualClock()
        let config = RateLimiterConfiguration()
        let span = config.window + config.margin
        let limiter = makeLimiter(clock: clock, configuration: config, random: SplitMix64(seed: seed))
        var rng = SplitMix64(seed: seed &+ 1000)
        var pauses: [(from: Instant, until: Instant)] = []
        var rates: [Int] = []
        let grants = await runClosedLoop(limiter: limiter, clock: clock, workers: 40) { grants in
            rates.append(limiter.effectiveRate ?? -1)
            if Double.random(in: 0..<1, using: &rng) < 0.08 {
                pauses.append((clock.now, limiter.rateLimited()))
            }
            return grants.count < 3_000
        }
        #expect(pauses.count > 5)
        #expect(limiter.statistics.decreases > 0)
        expectSlidingWindow(grants, rate: 20, span: span)
        #expect(rates.allSatisfy { (1...20).contains($0) })
        for pause in pauses {
            let inside = grants.filter { $0 > pause.from && $0 < pause.until }
            #expect(inside.isEmpty, "grants during pause \(pause): \(inside)")
        }
        #expect(limiter.effectiveRate(at: clock.now.advanced(by: .seconds(60))) == 20)
    }
}
