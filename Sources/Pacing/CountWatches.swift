import Synchronization

/// Tasks suspended until a count reaches a threshold: the test hooks `waitForSleepers(count:)`
/// of ``ManualClock`` and `waitForWaiters(count:)` of ``RateLimiter``, written once.
///
/// The owner keeps the watches in its locked state, beside the count they watch, and calls
/// ``takeReached(by:)`` whenever that count grows.
package struct CountWatches: Sendable {
    private struct Watch {
        let id: UInt64
        let count: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private var watches: [Watch] = []
    private var nextID: UInt64 = 0

    package init() {}

    /// Removes the watches that `count` satisfies and returns their continuations, to resume
    /// once the lock is released.
    package mutating func takeReached(by count: Int) -> [CheckedContinuation<Void, Never>] {
        guard !watches.isEmpty else { return [] }
        let ready = watches.filter { $0.count <= count }
        if !ready.isEmpty { watches.removeAll { $0.count <= count } }
        return ready.map(\.continuation)
    }

    fileprivate mutating func newID() -> UInt64 {
        nextID &+= 1
        return nextID
    }

    fileprivate mutating func add(id: UInt64, count: Int, continuation: CheckedContinuation<Void, Never>) {
        watches.append(Watch(id: id, count: count, continuation: continuation))
    }

    fileprivate mutating func remove(id: UInt64) -> CheckedContinuation<Void, Never>? {
        guard let index = watches.firstIndex(where: { $0.id == id }) else { return nil }
        return watches.remove(at: index).continuation
    }
}

/// A locked state that holds ``CountWatches`` beside the count they watch.
package protocol CountWatching: SendableMetatype {
    var watches: CountWatches { get set }
    /// The count now (`Int.max` when every wait should return at once).
    var watchedCount: Int { get }
}

extension Mutex where Value: CountWatching {
    /// Suspends until the watched count is at least `count`, without real sleeping: resumed by
    /// the owner's ``CountWatches/takeReached(by:)``. Returns at once if already so, and early
    /// if the waiting task is cancelled (e.g. by a test time limit).
    package func waitForCount(atLeast count: Int) async {
        let id = withLock { $0.watches.newID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = withLock { state -> Bool in
                    if state.watchedCount >= count || Task.isCancelled { return true }
                    state.watches.add(id: id, count: count, continuation: continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            withLock { $0.watches.remove(id: id) }?.resume()
        }
    }
}
