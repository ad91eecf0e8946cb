import Pacing
import PacingTesting
import Testing

@Suite("ManualClock", .timeLimit(.minutes(1)))
struct ManualClockTests {
    @Test func advanceMovesTimeForwardOnly() {
        let clock = ManualClock()
        #expect(clock.now == .zero)
        clock.advance(by: .milliseconds(1500))
        #expect(clock.now == at(.milliseconds(1500)))
        clock.advance(to: at(.seconds(3)))
        #expect(clock.now == at(.seconds(3)))
        clock.advance(to: at(.seconds(1)))  // backwards: no-op
        clock.advance(by: .seconds(-1))  // negative: no-op
        #expect(clock.now == at(.seconds(3)))
        #expect(clock.advanceToNextDeadline() == nil)
        #expect(clock.now == at(.seconds(3)))
        #expect(ManualClock(now: at(.seconds(7))).now == at(.seconds(7)))
        #expect(at(.seconds(1)).duration(to: at(.milliseconds(2500))) == .milliseconds(1500))
    }

    @Test func sleepResumesExactlyAtDeadline() async throws {
        let clock = ManualClock()
        let task = Task {
            try await clock.sleep(until: at(.seconds(1)), tolerance: nil)
            return clock.now
        }
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline == at(.seconds(1)))
        clock.advance(by: .milliseconds(999))
        #expect(clock.sleepers() == 1)  // not yet due: still registered
        clock.advance(by: .milliseconds(1))
        #expect(clock.sleepers() == 0)  // resumed synchronously by advance
        #expect(try await join(task) == at(.seconds(1)))
    }

    @Test func deadlineNotInTheFutureReturnsImmediately() async throws {
        let clock = ManualClock(now: at(.seconds(5)))
        try await clock.sleep(until: at(.seconds(5)), tolerance: nil)
        try await clock.sleep(until: at(.seconds(2)), tolerance: nil)
        try await clock.sleep(for: .zero)
        #expect(clock.sleepers() == 0)
        #expect(clock.now == at(.seconds(5)))
    }

    @Test func cancellingASleeperThrowsAndRemovesIt() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(until: at(.seconds(10)), tolerance: nil) }
        await clock.waitForSleepers(count: 1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await join(task) }
        #expect(clock.sleepers() == 0)
        #expect(clock.nextDeadline == nil)
        #expect(clock.now == .zero)
    }

    @Test func alreadyCancelledTaskThrowsWithoutRegistering() async {
        let clock = ManualClock()
        await withTaskGroup(of: Bool.self) { group in
            group.cancelAll()
            group.addTask {
                do {
                    try await clock.sleep(until: at(.seconds(1)), tolerance: nil)
                    return false
                } catch {
                    return error is CancellationError
                }
            }
            for await threw in group { #expect(threw) }
        }
        #expect(clock.sleepers() == 0)
    }

    @Test func cancellingOneOfManyLeavesTheOthers() async throws {
        let clock = ManualClock()
        let a = Task { try await clock.sleep(until: at(.seconds(1)), tolerance: nil) }
        await clock.waitForSleepers(count: 1)
        let b = Task { try await clock.sleep(until: at(.seconds(2)), tolerance: nil) }
        await clock.waitForSleepers(count: 2)
        a.cancel()
        await #expect(throws: CancellationError.self) { try await join(a) }
        #expect(clock.sleepers() == 1)
        #expect(clock.nextDeadline == at(.seconds(2)))
        clock.advance(by: .seconds(2))
        try await join(b)
        #expect(clock.sleepers() == 0)
    }

    @Test func advanceToNextDeadlineStepsThroughDeadlinesInOrder() async throws {
        let clock = ManualClock()
        var tasks: [Task<Instant, any Error>] = []
        for (n, seconds) in [3, 1, 2].enumerated() {
            tasks.append(
                Task {
                    try await clock.sleep(until: at(.seconds(seconds)), tolerance: nil)
                    return clock.now
                }
            )
            await clock.waitForSleepers(count: n + 1)
        }
        #expect(clock.advanceToNextDeadline() == at(.seconds(1)))
        #expect(clock.sleepers() == 2)
        #expect(try await join(tasks[1]) == at(.seconds(1)))
        #expect(clock.advanceToNextDeadline() == at(.seconds(2)))
        #expect(clock.sleepers() == 1)
        #expect(try await join(tasks[2]) == at(.seconds(2)))
        #expect(clock.advanceToNextDeadline() == at(.seconds(3)))
        #expect(try await join(tasks[0]) == at(.seconds(3)))
        #expect(clock.advanceToNextDeadline() == nil)
    }

    @Test func waitForSleepersResumesWhenTheNthSleeperRegisters() async throws {
        let clock = ManualClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 1...50 {
                group.addTask { try await clock.sleep(for: .milliseconds(i)) }
            }
            await clock.waitForSleepers(count: 50)
            #expect(clock.sleepers() == 50)
            await clock.waitForSleepers(count: 10)  // already satisfied: returns at once
            clock.advance(by: .milliseconds(25))
            #expect(clock.sleepers() == 25)
            clock.advance(by: .seconds(1))
            #expect(clock.sleepers() == 0)
            try await group.waitForAll()
        }
    }

    @Test func worksWithTaskSleepAndAsAnyClock() async throws {
        let clock = ManualClock()
        let any: any Clock<Duration> = clock
        let task = Task {
            try await Task.sleep(until: at(.seconds(2)), clock: clock)
            try await any.sleep(for: .seconds(1))
            return clock.now
        }
        await clock.waitForSleepers(count: 1)
        clock.advance(by: .seconds(2))
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline == at(.seconds(3)))
        clock.advance(by: .seconds(1))
        #expect(try await join(task) == at(.seconds(3)))
    }
}
