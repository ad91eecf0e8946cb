/// The life of a job. Every input row is exactly one job in exactly one state.
package enum JobState: String, Sendable, CaseIterable, Codable {
    /// Waiting to be registered (a backoff after a failure is waited in memory by the run).
    case queued
    /// A register call was (about to be) sent; its send time is on disk.
    case inFlight = "in_flight"
    /// A register call may have reached the vendor without an answer: ask `registrants`
    /// before sending again.
    case uncertain
    /// Registered; the result row holds the URLs.
    case done
    /// Permanently failed (the API's message is in `error`); `retry` requeues it.
    case failed
    /// Rejected at import (the reason is in `error`); never sent.
    case rejected
    /// The same person was already queued for this webinar and schedule (`duplicate_of`), or
    /// this row was replaced by a corrected one imported later.
    case duplicate
    /// Taken out of the queue by `bulkreg cancel`; kept for the record and the export.
    case cancelled

    /// Still to be registered or settled by a run: queued, in flight or uncertain.
    package var isOpen: Bool { self == .queued || self == .inFlight || self == .uncertain }

    /// The open jobs among per-state counts.
    package static func open(in counts: [JobState: Int]) -> Int {
        counts.reduce(0) { $0 + ($1.key.isOpen ? $1.value : 0) }
    }
}
