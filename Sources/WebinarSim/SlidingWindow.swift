/// Call starts within a sliding window: the window ending at `t` holds the starts in
/// `(t - window, t]`, so a start exactly `window` old has left it.
///
/// Used both as the rate limiter (one per API key) and to measure the maximum number of
/// starts seen in any window (which is always reached at some start, so checking at every
/// start is exact).
public struct SlidingWindow: Sendable {
    /// Width of the window.
    public let window: Duration
    private var starts: [Duration] = []
    private var head = 0
    /// The largest number of starts seen inside one window so far.
    public private(set) var maxInWindow = 0

    /// Creates an empty window of the given width (1 s for the vendor's limit).
    public init(window: Duration = .seconds(1)) {
        self.window = window
    }

    /// Starts inside the window ending at `now`.
    public mutating func count(at now: Duration) -> Int {
        evict(before: now)
        return starts.count - head
    }

    /// Records a start at `now` (times must not go backwards) and returns the count
    /// inside the window ending at `now`, this start included.
    @discardableResult
    public mutating func record(at now: Duration) -> Int {
        evict(before: now)
        starts.append(now)
        let current = starts.count - head
        maxInWindow = max(maxInWindow, current)
        return current
    }

    /// Records a start at `now` only if fewer than `limit` starts are inside the window;
    /// returns whether it was accepted. A refused start is not recorded (it does not push
    /// the window further).
    public mutating func admit(at now: Duration, limit: Int) -> Bool {
        guard count(at: now) < limit else { return false }
        record(at: now)
        return true
    }

    private mutating func evict(before now: Duration) {
        while head < starts.count, starts[head] <= now - window { head += 1 }
        if head > 1024, head * 2 > starts.count {
            starts.removeFirst(head)
            head = 0
        }
    }
}
