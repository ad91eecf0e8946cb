import Synchronization

/// The latencies of the last calls, for the in-flight target and the settle time.
package struct LatencyWindow: Sendable, Equatable {
    private var samples: [Double] = []
    private var next = 0
    /// How many calls are remembered.
    package let capacity: Int

    package init(capacity: Int = 256) { self.capacity = capacity }

    /// Records one call's latency (a timed-out call counts as its timeout: a lower bound).
    package mutating func record(_ seconds: Double) {
        if samples.count < capacity {
            samples.append(seconds)
        } else {
            samples[next] = seconds
            next = (next + 1) % capacity
        }
    }

    package var count: Int { samples.count }

    /// The latency to plan the calls in flight for: the p95 once 32 calls are known; before,
    /// the slowest seen × 1.5 (a few samples underestimate the p95, and too few calls in flight
    /// at the start of a slow API cost seconds of the rate); nil before any call.
    package var forPlanning: Double? {
        guard let slowest = samples.max() else { return nil }
        return samples.count >= 32 ? quantile(0.95) : slowest * 1.5
    }

    /// The `p` quantile (0…1) of the remembered latencies, or nil before any call.
    package func quantile(_ p: Double) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))
        return sorted[index]
    }
}

/// Little's law: to start `rate` calls a second when each takes `latency`, about rate ×
/// latency calls must be in flight. Pure; table-tested.
package enum InFlightTarget {
    /// Calls to keep in flight: rate × (p95 latency + 0.5 s of headroom) + 2, at least 4,
    /// at most `cap`. Before any call: enough for 2 s of latency.
    package static func target(rate: Int, p95: Double?, cap: Int) -> Int {
        guard rate > 0 else { return cap }
        let latency = p95 ?? 2
        let wanted = Int((Double(rate) * (latency + 0.5)).rounded(.up)) + 2
        return min(cap, max(4, wanted))
    }
}

/// A gate with a limit that can change while tasks wait at it: at most `limit` holders.
/// Workers pass it before taking a job, so the calls in flight follow the latency.
final class ConcurrencyGate: Sendable {
    private struct State {
        var limit: Int
        var holders = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var closed = false
    }

    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(limit: max(1, limit))) }

    /// Waits for room; false once the gate is closed (the run is ending).
    func enter() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let verdict: Bool? = state.withLock {
                if $0.closed { return false }
                if $0.holders < $0.limit {
                    $0.holders += 1
                    return true
                }
                $0.waiters.append(continuation)
                return nil
            }
            if let verdict { continuation.resume(returning: verdict) }
        }
    }

    /// Gives the place back.
    func leave() {
        let wake: CheckedContinuation<Bool, Never>? = state.withLock {
            $0.holders -= 1
            guard $0.holders < $0.limit, !$0.waiters.isEmpty else { return nil }
            $0.holders += 1
            return $0.waiters.removeFirst()
        }
        wake?.resume(returning: true)
    }

    /// Changes the limit; waiters get in if there is now room.
    func setLimit(_ limit: Int) {
        let wake: [CheckedContinuation<Bool, Never>] = state.withLock {
            $0.limit = max(1, limit)
            var out: [CheckedContinuation<Bool, Never>] = []
            while $0.holders < $0.limit, !$0.waiters.isEmpty {
                $0.holders += 1
                out.append($0.waiters.removeFirst())
            }
            return out
        }
        for w in wake { w.resume(returning: true) }
    }

    var limit: Int { state.withLock { $0.limit } }

    /// Lets every waiter out with false, and every later `enter`.
    func close() {
        let all: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            state.closed = true
            let waiters = state.waiters
            state.waiters.removeAll()
            return waiters
        }
        for w in all { w.resume(returning: false) }
    }
}
