#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two times a component reads, injected together: a monotonic `Clock` for pacing, waits
/// and durations, and the wall clock (seconds since 1970, UTC) for what is stored and shown.
///
/// Production code takes ``system``; a test passes a manual clock whose wall time moves with
/// it (`PacingTesting`), so one `advance(by:)` moves both and nothing reads the time behind
/// the test's back.
public struct Clocks<C: Clock>: Sendable where C.Duration == Duration {
    /// Pacing, timeouts, back-offs, durations.
    public let monotonic: C
    /// What is written down: seconds since 1970 (UTC).
    public let wall: @Sendable () -> Double

    public init(monotonic: C, wall: @escaping @Sendable () -> Double) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// A reading of monotonic time as the duration since this call (the origin is taken now),
    /// for components that count windows in plain durations (the simulator).
    public func elapsed() -> @Sendable () -> Duration {
        let origin = monotonic.now
        let clock = monotonic
        return { origin.duration(to: clock.now) }
    }
}

extension Clocks where C == ContinuousClock {
    /// The process's clocks: `ContinuousClock` and `CLOCK_REALTIME`.
    public static var system: Clocks {
        Clocks(monotonic: ContinuousClock(), wall: systemWallTime)
    }
}

/// Now, by `CLOCK_REALTIME`: seconds since 1970 (UTC).
@Sendable
private func systemWallTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
