import Logging
import Pacing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// While a run goes on: tells the key's budget this process is alive, shows the other
/// processes on the key in the progress line, and (with `--verbose`) logs the reservation
/// waits every 10 s.
package enum BudgetWatch {
    /// - Parameter clock: what it waits on between looks (the budget's own time is the kernel's).
    package static func run<C: Clock>(
        _ budget: SharedBudget?,
        progress: RunProgress,
        logger: Logger,
        clock: C = ContinuousClock()
    ) async where C.Duration == Duration {
        guard let budget else { return }
        let me = getpid()
        var ticks = 0
        var seen: [String] = []
        while !Task.isCancelled {
            let now = SharedBudget.bootTimeNow()
            budget.touch(now: now)
            let others = budget.participants(now: now).filter { $0.pid != me }
            let labels = others.map(\.label)
            if labels != seen {
                seen = labels
                progress.update { $0.sharedWith = labels }
                if let text = KeyBudget.describe(others) { logger.info("\(text)") }
            }
            if ticks % 5 == 0 {
                let s = budget.statistics
                logger.debug(
                    "shared budget: \(s.reservations) reservations; slot waited p50 \(s.waitP50 / 1_000_000) ms, p99 \(s.waitP99 / 1_000_000) ms; lock and update p50 \(s.costP50 / 1_000) µs, p99 \(s.costP99 / 1_000) µs; key rate \(budget.effectiveRate(now: now))/s, \(others.count) other process(es)"
                )
            }
            ticks += 1
            do { try await clock.sleep(for: .seconds(2)) } catch { return }
        }
    }
}
