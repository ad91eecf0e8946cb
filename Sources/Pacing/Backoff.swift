/// Exponential backoff with jitter for retrying transient errors (network errors, 5xx).
///
/// The *ceiling* for attempt `n` (1-based) is `min(cap, base × factor^(n-1))`; the delay is drawn
/// uniformly below it according to ``jitter``:
/// - ``Jitter-swift.enum/equal`` (default): `ceiling/2 … ceiling` — attempt 1 waits 250…500 ms with
///   the defaults. Spreads retries of many workers while guaranteeing a minimum pause.
/// - ``Jitter-swift.enum/full``: `0 … ceiling` — widest spread (AWS "full jitter"), may retry at once.
/// - ``Jitter-swift.enum/none``: exactly the ceiling.
///
/// Defaults: base 500 ms, factor 2, cap 60 s (the ceiling reaches the cap at attempt 8:
/// 0.5, 1, 2, 4, 8, 16, 32, 60, 60 … s). Delays are never negative and never above `cap`.
/// HTTP 429 is *not* a transient error for this policy: report it to ``RateLimiter/rateLimited()``.
public struct Backoff: Sendable, Hashable {
    /// How the delay is drawn below the ceiling.
    public enum Jitter: Sendable, Hashable {
        /// Uniform in `0 … ceiling`.
        case full
        /// Uniform in `ceiling/2 … ceiling`.
        case equal
        /// Exactly the ceiling (no randomness).
        case none
    }

    /// The ceiling of attempt 1 (default 500 ms).
    public var base: Duration
    /// Growth factor per attempt, at least 1 (default 2).
    public var factor: Double
    /// Upper bound of every delay (default 60 s).
    public var cap: Duration
    /// Jitter mode (default ``Jitter-swift.enum/equal``).
    public var jitter: Jitter

    /// Creates a policy; `base` and `cap` must not be negative, `factor` must be ≥ 1.
    public init(
        base: Duration = .milliseconds(500),
        factor: Double = 2,
        cap: Duration = .seconds(60),
        jitter: Jitter = .equal
    ) {
        precondition(base >= .zero && cap >= .zero, "base and cap must not be negative")
        precondition(factor >= 1 && factor.isFinite, "factor must be finite and at least 1")
        self.base = base
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
    }

    /// The maximum delay of attempt `n` (1-based; `n < 1` counts as 1):
    /// `min(cap, base × factor^(n-1))`. Non-decreasing in `n`.
    public func ceiling(forAttempt n: Int) -> Duration {
        let capNanos = cap.nanoseconds
        let baseNanos = min(base.nanoseconds, capNanos)
        guard baseNanos > 0 else { return .zero }
        let exponent = max(n, 1) - 1
        let scale = Self.power(factor, exponent)
        let nanos = Double(baseNanos) * scale
        // Compare in Double before converting: huge or infinite values saturate at the cap.
        guard nanos < Double(capNanos) else { return .nanoseconds(capNanos) }
        return .nanoseconds(Int64(nanos))
    }

    /// A random delay for attempt `n` (1-based; `n < 1` counts as 1), within the bounds of
    /// ``jitter``: never negative, never above ``ceiling(forAttempt:)`` and hence never above `cap`.
    public func delay(forAttempt n: Int, random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(forAttempt: n).nanoseconds
        switch jitter {
        case .none:
            return .nanoseconds(ceiling)
        case .full:
            return .nanoseconds(Int64.random(in: 0...ceiling, using: &random))
        case .equal:
            let half = ceiling / 2
            return .nanoseconds(half + Int64.random(in: 0...(ceiling - half), using: &random))
        }
    }

    /// `x^n` for `x ≥ 1`, `n ≥ 0` by squaring (may be `+infinity`).
    private static func power(_ x: Double, _ n: Int) -> Double {
        var result = 1.0
        var base = x
        var e = n
        while e > 0 {
            if e & 1 == 1 { result *= base }
            e >>= 1
            if e > 0 { base *= base }
            if result.isInfinite { return result }
        }
        return result
    }
}
