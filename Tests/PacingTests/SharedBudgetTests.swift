import Foundation
import Pacing
import PacingTesting
import Testing

/// The shared per-key budget: several limiters ("processes", each with its own open file
/// description, so `flock` excludes them as it does processes) on one file and one manual clock.
@Suite struct SharedBudgetTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "bulkreg-budget-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func budget(
        _ name: String = "key.budget",
        configuration: RateLimiterConfiguration = RateLimiterConfiguration(),
        label: String = "p",
        pid: Int32 = getpid(),
        boot: String = "boot-a",
        now: Int64 = 0
    ) throws -> SharedBudget {
        try SharedBudget(
            path: directory + "/" + name,
            bootID: boot,
            now: now,
            configuration: configuration,
            label: label,
            pid: pid,
            random: SplitMix64(seed: 7)
        )
    }

    func limiter(
        clock: ManualClock,
        _ budget: SharedBudget,
        configuration: RateLimiterConfiguration = RateLimiterConfiguration()
    ) -> Limiter {
        Limiter(
            clock: clock,
            configuration: configuration,
            random: SplitMix64(seed: 9),
            shared: SharedStarts(budget: budget)
        )
    }

    /// Closed-loop saturated demand on several limiters at once; time moves only when every
    /// limiter's head sleeps on the clock and all its workers are queued.
    func runClosedLoop(limiters: [Limiter], clock: ManualClock, workers: Int, until total: Int) async -> [[Instant]] {
        let grants = Shared<[[Instant]]>(Array(repeating: [], count: limiters.count))
        await withTaskGroup(of: Void.self) { group in
            for (i, limiter) in limiters.enumerated() {
                for _ in 0..<workers {
                    group.addTask {
                        while true {
                            do {
                                let t = try await limiter.acquire()
                                grants.withLock { $0[i].append(t) }
                                await Task.yield()
                            } catch {
                                return
                            }
                        }
                    }
                }
            }
            while !Task.isCancelled {
                await clock.waitForSleepers(count: limiters.count)
                for limiter in limiters { await limiter.waitForWaiters(count: workers) }
                let count = grants.withLock { $0.reduce(0) { $0 + $1.count } }
                if count >= total { break }
                clock.advanceToNextDeadline()
            }
            group.cancelAll()
        }
        return grants.withLock { $0 }
    }

    @Test(arguments: [(2, true), (3, true), (2, false), (3, false)])
    func processesShareOneWindowFairly(processes: Int, evenSpacing: Bool) async throws {
        var config = RateLimiterConfiguration()
        config.evenSpacing = evenSpacing
        let clock = ManualClock()
        let budgets = try (0..<processes).map { try budget(configuration: config, label: "p\($0)") }
        let limiters = budgets.map { limiter(clock: clock, $0, configuration: config) }
        let grants = await runClosedLoop(limiters: limiters, clock: clock, workers: 30, until: 2_000)
        let all = grants.flatMap { $0 }
        #expect(all.count >= 2_000)
        let span = config.window + config.margin
        expectSlidingWindow(all, rate: 20, span: span)
        expectSlidingWindow(all, rate: 20, span: config.window)
        // Together at the key's rate: rate / (window + margin), as one limiter alone.
        let throughput = sustainedThroughput(all, rate: 20)
        #expect(throughput >= 0.99 * config.sustainedRatePerSecond!)
        // Each its equal share (they alternate in request order).
        let equal = Double(all.count) / Double(processes)
        for g in grants {
            #expect(abs(Double(g.count) - equal) <= 0.05 * equal, "shares \(grants.map(\.count))")
        }
        // The file's log holds the same starts the limiters granted.
        let logged = budgets[0].starts(from: 0, to: Int64.max).count
        #expect(logged >= all.count)
    }

    /// Bursts allowed, so that single calls are granted without the clock moving.
    static let burst = RateLimiterConfiguration(evenSpacing: false)

    @Test func aPauseReportedByOneProcessHoldsEveryProcess() async throws {
        let clock = ManualClock()
        let a = try budget(configuration: Self.burst, label: "a")
        let b = try budget(configuration: Self.burst, label: "b")
        let la = limiter(clock: clock, a, configuration: Self.burst)
        let lb = limiter(clock: clock, b, configuration: Self.burst)
        _ = try await la.acquire()
        _ = try await lb.acquire()
        clock.advance(by: .milliseconds(200))
        let until = la.rateLimited()  // a 429 seen by process a
        #expect(until >= at(.milliseconds(1_200)))
        let task = Task { try await lb.acquire() }
        await clock.waitForSleepers(count: 1)
        clock.advance(by: .seconds(2))
        let granted = try await join(task)
        #expect(granted >= until, "process b started at \(granted), inside a's pause until \(until)")
        #expect(b.pausedUntil(now: 300_000_000) != nil)
    }

    @Test func theKeysRateIsTheSmallestAsked() async throws {
        let clock = ManualClock()
        let slow = RateLimiterConfiguration(rate: 5)
        let fast = try budget(label: "fast")
        let careful = try budget(configuration: slow, label: "careful")
        #expect(fast.effectiveRate(now: 0) == 5)
        let limiters = [limiter(clock: clock, fast), limiter(clock: clock, careful, configuration: slow)]
        let grants = await runClosedLoop(limiters: limiters, clock: clock, workers: 10, until: 200)
        expectSlidingWindow(grants.flatMap { $0 }, rate: 5, span: .milliseconds(1_005))
    }

    @Test func aProcessStartedAfterAKillKeepsOutOfTheDeadOnesLastSecond() async throws {
        let clock = ManualClock()
        var dead: SharedBudget? = try budget(configuration: Self.burst, label: "killed")
        var grants: [Instant] = []
        do {
            let l = limiter(clock: clock, dead!, configuration: Self.burst)
            for _ in 0..<20 { grants.append(try await l.acquire()) }
        }
        dead = nil  // its file description closes as a killed process's would
        clock.advance(by: .milliseconds(300))
        let next = limiter(
            clock: clock,
            try budget(configuration: Self.burst, label: "next"),
            configuration: Self.burst
        )
        let task = Task { try await next.acquire() }
        await clock.waitForSleepers(count: 1)
        clock.advanceToNextDeadline()
        let first = try await join(task)
        #expect(first >= at(.milliseconds(1_005)), "first call at \(first), inside the dead run's window")
        #expect(grants.allSatisfy { $0 == .zero })
    }

    @Test func aLogFromAnotherBootIsIgnored() async throws {
        let clock = ManualClock()
        do {
            let l = limiter(
                clock: clock,
                try budget(configuration: Self.burst, boot: "before-reboot"),
                configuration: Self.burst
            )
            for _ in 0..<20 { _ = try await l.acquire() }
        }
        let after = try budget(configuration: Self.burst, boot: "after-reboot")
        #expect(after.starts(from: .min, to: .max).isEmpty)
        let l = limiter(clock: clock, after, configuration: Self.burst)
        #expect(try await l.acquire() == .zero)
    }

    @Test func participantsAreSeenAndLeave() throws {
        // Two live processes: this one and its parent.
        var a: SharedBudget? = try budget(label: "/data/a.sqlite", pid: getppid())
        let b = try budget(label: "webinars")
        // A participant whose process is gone does not count, whatever its entry says.
        let ghost = try budget(label: "ghost", pid: 0x3FFF_FFF0)
        #expect(Set(b.participants(now: 1).map(\.label)) == ["/data/a.sqlite", "webinars"])
        a = nil
        #expect(b.participants(now: 2).map(\.label) == ["webinars"])
        _ = (a, ghost)
        let peeked = SharedBudget.peek(path: directory + "/key.budget", bootID: "boot-a", now: 3)
        #expect(peeked?.map(\.label) == ["webinars"])
        #expect(SharedBudget.peek(path: directory + "/key.budget", bootID: "other", now: 3) == nil)
    }

    @Test func theFileIsPrivate() throws {
        let path = directory + "/key.budget"
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
        _ = try budget()
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aRateBeyondTheLogIsRefused() {
        #expect(throws: SharedBudget.OpenError.self) {
            _ = try budget(configuration: RateLimiterConfiguration(rate: SharedBudget.capacity + 1))
        }
    }
}

extension SharedBudgetTests {
    /// Time that overshoots every deadline (a busy machine wakes late): a held slot whose time
    /// has passed is taken, not given up for a new one at the back of the line.
    @Test func lateWakeUpsStillTakeTheirSlots() async throws {
        let clock = ManualClock()
        let budgets = try (0..<2).map { try budget(label: "p\($0)") }
        let limiters = budgets.map { limiter(clock: clock, $0) }
        let grants = Shared<[[Instant]]>([[], []])
        await withTaskGroup(of: Void.self) { group in
            for (i, limiter) in limiters.enumerated() {
                for _ in 0..<10 {
                    group.addTask {
                        while let t = try? await limiter.acquire() {
                            grants.withLock { $0[i].append(t) }
                            await Task.yield()
                        }
                    }
                }
            }
            for _ in 0..<400 {
                await clock.waitForSleepers(count: 2)
                for limiter in limiters { await limiter.waitForWaiters(count: 10) }
                guard let next = clock.nextDeadline else { break }
                clock.advance(to: next.advanced(by: .milliseconds(7)))
            }
            group.cancelAll()
        }
        let all = grants.withLock { $0 }
        // Both keep going, each about half, and the reservations are not wasted: about one per grant.
        #expect(all[0].count >= 100 && all[1].count >= 100, "\(all.map(\.count))")
        let reservations = budgets.map { $0.statistics.reservations }.reduce(0, +)
        #expect(Double(reservations) <= 1.1 * Double(all[0].count + all[1].count) + 2, "\(reservations) reservations")
        expectSlidingWindow(all.flatMap { $0 }, rate: 20, span: .seconds(1))
    }
}
