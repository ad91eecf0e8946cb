/// Parameters of a ``RateLimiter``: the sliding-window limit and the AIMD reaction to HTTP 429.
///
/// ## Sliding window and `margin`
/// A start is granted only if fewer than the effective rate of starts happened in the preceding
/// `window + margin`; hence **no interval of length `window` ever contains more than `rate`
/// starts**. The margin absorbs jitter between our start instants and the vendor's arrival instants
/// (network, TLS, scheduling latency between grant and the request leaving the process). It costs
/// throughput: sustained rate = `rate / (window + margin)`.
///
/// | margin | sustained at 20 per 1 s |
/// |--------|-------------------------|
/// | 0 ms   | 20.00/s                 |
/// | 5 ms   | 19.90/s (default)       |
/// | 10 ms  | 19.80/s (product floor) |
/// | 50 ms  | 19.05/s                 |
///
/// The default margin is 5 ms: it keeps ≥ 19.8/s (the product target) with headroom, and the
/// AIMD reaction below handles the rare 429 caused by jitter larger than the margin.
///
/// ## AIMD reaction to 429 (``RateLimiter/rateLimited()``)
/// - Every 429 pauses the whole limiter: no start before `now + pause + U(0…pauseJitter)`
///   (defaults 1 s + 0…250 ms, the vendor's "wait 1 second"); an active pause is only ever extended.
/// - 429s arriving while a pause is active belong to the same *episode* (typically other requests
///   that were already in flight) and never cut the rate again.
/// - A new episode cuts the effective rate multiplicatively (`× decreaseFactor`, rounded down, at
///   least `minimumRate`) if it is a repeat: the previous episode began at most `repeatInterval`
///   earlier, or the rate has not yet recovered to `rate`. The first 429 after a calm period at full
///   rate only pauses: a lone 429 is most likely jitter beyond the margin, and halving would cost
///   ~10 s of reduced throughput.
/// - Additive increase: starting when the pause ends, the effective rate grows by `increaseStep`
///   every `increaseInterval` without a further 429, up to `rate` (never above).
///
/// Defaults: ×0.5, minimum 1, +1 per 1 s, repeat interval 10 s → after one cut from 20 the limiter
/// is back to 20/window about 11 s later.
public struct RateLimiterConfiguration: Sendable, Hashable {
    /// Maximum starts per `window`; `nil` disables limiting entirely (every `acquire()` is granted
    /// immediately and `rateLimited()` only counts), e.g. to measure the queue's own ceiling.
    public var rate: Int?
    /// The sliding window the vendor counts in (default 1 s).
    public var window: Duration
    /// Safety margin added to `window` (default 5 ms). See the type's documentation.
    public var margin: Duration
    /// Minimum pause after a 429 (default 1 s).
    public var pause: Duration
    /// Upper bound of the uniform random jitter added to `pause` (default 250 ms).
    public var pauseJitter: Duration
    /// Multiplicative decrease factor, in `0 < factor < 1` (default 0.5).
    public var decreaseFactor: Double
    /// Lower bound of the effective rate, in `1...rate` (default 1).
    public var minimumRate: Int
    /// Additive increase per `increaseInterval` (default 1).
    public var increaseStep: Int
    /// Period of the additive increase (default 1 s).
    public var increaseInterval: Duration
    /// A new 429 episode starting within this interval of the previous one cuts the rate even at
    /// full rate (default 10 s).
    public var repeatInterval: Duration
    /// Spread starts evenly: at least `(window + margin) / effectiveRate` between two starts
    /// (default true). The window guarantee holds either way; spacing keeps a full window's
    /// worth of calls from leaving at one instant, where their arrival times at the vendor
    /// would spread by more than `margin` (connection set-up, event-loop queueing) and make
    /// the vendor count 21 in one of *its* windows.
    public var evenSpacing: Bool

    /// The product defaults: 20 starts per 1 s window, 5 ms margin (19.9 starts/s sustained).
    public init(
        rate: Int? = 20,
        window: Duration = .seconds(1),
        margin: Duration = .milliseconds(5),
        pause: Duration = .seconds(1),
        pauseJitter: Duration = .milliseconds(250),
        decreaseFactor: Double = 0.5,
        minimumRate: Int = 1,
        increaseStep: Int = 1,
        increaseInterval: Duration = .seconds(1),
        repeatInterval: Duration = .seconds(10),
        evenSpacing: Bool = true
    ) {
        self.rate = rate
        self.window = window
        self.margin = margin
        self.pause = pause
        self.pauseJitter = pauseJitter
        self.decreaseFactor = decreaseFactor
        self.minimumRate = minimumRate
        self.increaseStep = increaseStep
        self.increaseInterval = increaseInterval
        self.repeatInterval = repeatInterval
        self.evenSpacing = evenSpacing
        validate()
    }

    /// Traps on invalid parameters (also checked when a ``RateLimiter`` is created, since the
    /// properties are mutable).
    func validate() {
        precondition(rate.map { $0 >= 1 } ?? true, "rate must be at least 1")
        precondition(window > .zero, "window must be positive")
        precondition(margin >= .zero, "margin must not be negative")
        precondition(pause >= .zero && pauseJitter >= .zero, "pause and jitter must not be negative")
        precondition(decreaseFactor > 0 && decreaseFactor < 1, "decreaseFactor must be in (0, 1)")
        precondition(minimumRate >= 1 && minimumRate <= (rate ?? Int.max), "minimumRate must be in 1...rate")
        precondition(increaseStep >= 1, "increaseStep must be at least 1")
        precondition(increaseInterval > .zero, "increaseInterval must be positive")
        precondition(repeatInterval >= .zero, "repeatInterval must not be negative")
    }

    /// No limiting at all (`rate == nil`).
    public static var unlimited: RateLimiterConfiguration { RateLimiterConfiguration(rate: nil) }

    /// Sustained starts per second under saturated demand: `rate / (window + margin)`;
    /// `nil` when unlimited.
    public var sustainedRatePerSecond: Double? {
        rate.map { Double($0) / (window + margin).seconds }
    }
}

/// The package's one set of `Duration` conversions (NIO's `TimeAmount(_:)` does the rest).
extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }

    /// The duration in whole nanoseconds (truncated toward zero; saturating).
    public var nanoseconds: Int64 {
        let (s, a) = components
        let (product, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        let (sum, overflow2) = product.addingReportingOverflow(a / 1_000_000_000)
        if overflow2 { return s < 0 ? .min : .max }
        return sum
    }
}
