import Pacing
import Testing

@Suite("Backoff and SplitMix64")
struct BackoffTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        var rng = SplitMix64(seed: 1_234_567)
        #expect(rng.next() == 6_457_827_717_110_365_317)
        #expect(rng.next() == 3_203_168_211_198_807_973)
        #expect(rng.next() == 9_817_491_932_198_370_423)
    }

    @Test func defaultCeilingsDoubleUpToTheCap() {
        let backoff = Backoff()
        #expect(backoff.base == .milliseconds(500) && backoff.factor == 2 && backoff.cap == .seconds(60))
        #expect(backoff.jitter == .equal)
        let expected: [Duration] = [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8),
            .seconds(16), .seconds(32), .seconds(60), .seconds(60),
        ]
        for (i, d) in expected.enumerated() {
            #expect(backoff.ceiling(forAttempt: i + 1) == d)
        }
        for n in 9...200 { #expect(backoff.ceiling(forAttempt: n) == .seconds(60)) }
        #expect(backoff.ceiling(forAttempt: .max) == .seconds(60))
        #expect(backoff.ceiling(forAttempt: 0) == .milliseconds(500))
        #expect(backoff.ceiling(forAttempt: -3) == .milliseconds(500))
    }

    @Test(arguments: [Backoff.Jitter.equal, .full, .none])
    func delaysStayWithinBoundsForAttempts1To20(jitter: Backoff.Jitter) {
        let backoff = Backoff(jitter: jitter)
        var previousCeiling = Duration.zero
        for n in 1...20 {
            let ceiling = backoff.ceiling(forAttempt: n)
            #expect(ceiling >= previousCeiling && ceiling <= backoff.cap)  // monotone, capped
            previousCeiling = ceiling
            let lower: Duration =
                switch jitter {
                case .equal: ceiling / 2
                case .full: .zero
                case .none: ceiling
                }
            var allInBounds = true
            for seed in UInt64(0)..<300 {
                var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(n))
                let d = backoff.delay(forAttempt: n, random: &rng)
                allInBounds = allInBounds && d >= lower && d <= ceiling && d >= .zero && d <= .seconds(60)
            }
            #expect(allInBounds, "attempt \(n)")
        }
    }

    @Test func attemptOneEqualJitterCoversHalfBaseToBase() {
        let backoff = Backoff()
        var lo = Duration.seconds(100)
        var hi = Duration.zero
        for seed in UInt64(0)..<2_000 {
            var rng = SplitMix64(seed: seed)
            let d = backoff.delay(forAttempt: 1, random: &rng)
            lo = min(lo, d)
            hi = max(hi, d)
        }
        #expect(lo >= .milliseconds(250) && lo < .milliseconds(255))
        #expect(hi <= .milliseconds(500) && hi > .milliseconds(495))
    }

    @Test func sameSeedSameDelaysDifferentSeedDifferentDelays() {
        let backoff = Backoff(jitter: .full)
        func sequence(_ seed: UInt64) -> [Duration] {
            var rng = SplitMix64(seed: seed)
            return (1...20).map { backoff.delay(forAttempt: $0, random: &rng) }
        }
        #expect(sequence(99) == sequence(99))
        #expect(sequence(99) != sequence(100))
    }

    @Test func customAndDegenerateParameters() {
        var rng = SplitMix64(seed: 1)
        let zero = Backoff(base: .zero)
        #expect(zero.ceiling(forAttempt: 50) == .zero)
        #expect(zero.delay(forAttempt: 5, random: &rng) == .zero)
        let flat = Backoff(base: .seconds(2), factor: 1, cap: .seconds(60), jitter: .none)
        #expect(flat.delay(forAttempt: 1_000_000, random: &rng) == .seconds(2))
        let baseAboveCap = Backoff(base: .seconds(90), cap: .seconds(60), jitter: .none)
        #expect(baseAboveCap.delay(forAttempt: 1, random: &rng) == .seconds(60))
        let triple = Backoff(base: .milliseconds(100), factor: 3, cap: .seconds(5), jitter: .none)
        #expect(
            (1...6).map { triple.ceiling(forAttempt: $0) } == [
                .milliseconds(100), .milliseconds(300), .milliseconds(900), .milliseconds(2700),
                .seconds(5), .seconds(5),
            ]
        )
    }
}
