import Pacing
import PacingTesting
import Testing

@Suite("RateLimiter: even spacing (the runner's default)")
struct EvenSpacingTests {
    @Test("saturated: starts are (window + margin) / rate apart, never more than rate in any window")
    func spacedUnderSaturation() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock, configuration: RateLimiterConfiguration())
        let grants = try await grantsUnderSaturation(limiter: limiter, clock: clock, count: 200)
        let span = Duration.milliseconds(1005)
        let step = span / 20
        for (a, b) in zip(grants, grants.dropFirst()) {
            #expect(a.duration(to: b) >= step)
        }
        for i in 0..<(grants.count - 20) {
            #expect(grants[i].duration(to: grants[i + 20]) >= span)
        }
        // Throughput stays at rate / (window + margin): 200 starts in 199 steps.
        #expect(grants.first!.duration(to: grants.last!) <= step * 199 + .milliseconds(1))
    }

    @Test("a reduced rate spreads starts further apart")
    func spacedAtReducedRate() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock, configuration: RateLimiterConfiguration(rate: 4, margin: .zero))
        let grants = try await grantsUnderSaturation(limiter: limiter, clock: clock, count: 9)
        #expect(grants.map(\.offset) == (0..<9).map { Duration.milliseconds(250) * $0 })
    }

    @Test("a start reported late counts at its real instant: the calls after it keep their distance")
    func lateStartsCountWhenTheyHappened() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(
            clock: clock,
            configuration: RateLimiterConfiguration(rate: 2, margin: .zero, evenSpacing: false)
        )
        let first = try await limiter.acquire()
        _ = try await limiter.acquire()
        #expect(first.offset == .zero)
        limiter.delayStart(first, to: ManualClock.Instant(offset: .milliseconds(300)))
        #expect(limiter.nextAvailableStart.offset == .milliseconds(1300))
        // Never earlier.
        limiter.delayStart(first, to: ManualClock.Instant(offset: .milliseconds(100)))
        #expect(limiter.nextAvailableStart.offset == .milliseconds(1300))
    }

    /// One caller at a time: each either gets its slot at once, or its leader sleeps on the
    /// clock until the test moves time to the slot.
    func grantsUnderSaturation(
        limiter: RateLimiter<ManualClock>,
        clock: ManualClock,
        count: Int
    ) async throws
        -> [ManualClock.Instant]
    {
        var grants: [ManualClock.Instant] = []
        for _ in 0..<count {
            let before = limiter.statistics.starts
            let task = Task { try await limiter.acquire() }
            while limiter.statistics.starts == before && clock.sleepers() == 0 { await Task.yield() }
            if limiter.statistics.starts == before { clock.advanceToNextDeadline() }
            grants.append(try await task.value)
        }
        return grants
    }
}
