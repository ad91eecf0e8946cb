/// Finds the vendor's outages in a stream of calls: a run of consecutive calls that got no
/// working answer (unreachable, vendor trouble, timeouts), ended by the next call that got any
/// answer, long enough not to be chance: at least `minimumCalls` of them, or at least
/// `minimumSpanCalls` lasting `minimumSeconds` or more (calls that time out are few but long).
/// Scattered faults are not outages: at 15% of calls failing, ten in a row come once in 170
/// million calls. Pure: fed in call order (or reversed, to find the last
/// outage first), table-tested in `OutageTests`.
package struct OutageDetector: Sendable {
    /// One outage: from the first failing call's start to the first answered call's start
    /// after it (or the last failing call's end, when nothing answered since).
    package struct Outage: Sendable, Equatable {
        package var from: Double
        package var to: Double
        package var calls: Int
        /// The reason of the run's first failing call (in time).
        package var reason: String?
        /// Whether an answered call closed it (false: the history ends inside it).
        package var ended: Bool

        package init(from: Double, to: Double, calls: Int, reason: String?, ended: Bool) {
            self.from = from
            self.to = to
            self.calls = calls
            self.reason = reason
            self.ended = ended
        }
    }

    package static let minimumCalls = 10
    package static let minimumSpanCalls = 3
    package static let minimumSeconds = 5.0

    /// Whether a run of failing calls is an outage.
    package static func isOutage(_ run: Outage) -> Bool {
        run.calls >= minimumCalls || run.calls >= minimumSpanCalls && run.to - run.from >= minimumSeconds
    }

    package let reversed: Bool
    private var run: Outage?
    /// Reversed: the start of the last answered call seen, which ends the run that follows.
    private var answeredAfter: Double?

    package init(reversed: Bool = false) { self.reversed = reversed }

    /// Feeds one call; returns an outage this call closes.
    package mutating func feed(at: Double, latency: Double, outcome: CallOutcome, reason: String?) -> Outage? {
        if outcome.isTrouble {
            let end = at + latency
            if var current = run {
                current.calls += 1
                if at < current.from {
                    current.from = at
                    current.reason = reason
                }
                if !current.ended { current.to = max(current.to, end) }
                run = current
            } else {
                run = Outage(
                    from: at,
                    to: answeredAfter ?? end,
                    calls: 1,
                    reason: reason,
                    ended: reversed && answeredAfter != nil
                )
            }
            return nil
        }
        if reversed { answeredAfter = at }
        let closed = run.flatMap { current -> Outage? in
            var done = current
            if !reversed {
                done.to = max(done.to, at)
                done.ended = true
            }
            return Self.isOutage(done) ? done : nil
        }
        run = nil
        return closed
    }

    /// The outage the stream ends in, if any.
    package mutating func finish() -> Outage? {
        defer { run = nil }
        guard let current = run, Self.isOutage(current) else { return nil }
        return current
    }
}
