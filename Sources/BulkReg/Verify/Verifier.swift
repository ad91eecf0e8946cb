import Foundation
import Pacing
import WebinarAPI

/// What `bulkreg verify` found for one webinar schedule.
package struct VerifyCounts: Sendable, Equatable {
    package var platform: Platform
    package var webinarID: Int
    package var schedule: Int
    /// Done jobs looked for.
    package var jobs = 0
    package var confirmed = 0
    /// Found with other links (refreshed when `--refresh`).
    package var changed = 0
    package var refreshed = 0
    /// Not at the vendor any more: now `failed`.
    package var notFound = 0
    /// Registrants the vendor has that no done job of this database is (counted, not touched).
    package var vendorOnly = 0
    /// Jobs the rows could not tell apart (the same person in several sessions, undated rows).
    package var unsettled = 0
    package var pages = 0
    /// Set when the pass could not finish (the vendor's error): nothing was marked not found.
    package var error: String?
}

/// Audits done jobs against the vendor's `registrants`: every page of each schedule, matched
/// by email (any case) and schedule (and an EverWebinar row's session date when it has one);
/// the page's findings committed before the next page is asked for. A job is "not found" only
/// after a complete pass over its schedule.
package struct Verifier: Sendable {
    package var refresh: Bool

    package init(refresh: Bool) {
        self.refresh = refresh
    }

    /// Retries of one page in vendor trouble before the pass is given up.
    static let pageRetries = 4

    /// Which of `jobs` (one person's done jobs in a schedule) a vendor row is, or why none.
    enum RowMatch: Equatable {
        case job(Int)
        /// The row is another session's registration, or the person's row seen again.
        case none
        /// Several jobs, and the row cannot tell which.
        case ambiguous
    }

    /// Pure: the job a row stands for among `candidates` (not yet matched), by session date.
    static func match(rowDate: String?, platform: Platform, candidates: [VerifyStore.DoneJob]) -> RowMatch {
        guard !candidates.isEmpty else { return .none }
        if platform == .everwebinar, let rowDate, !rowDate.isEmpty {
            let dated = RegistrantMatch.sessionKey(rowDate)
            if let job = candidates.first(where: { $0.date.map(RegistrantMatch.sessionKey) == dated }) {
                return .job(job.id)
            }
            // A job without a date takes the row; else it is another session's registration.
            return candidates.first { $0.date == nil }.map { .job($0.id) } ?? .none
        }
        return candidates.count == 1 ? .job(candidates[0].id) : .ambiguous
    }

    /// Verifies every schedule with done jobs. `progress` is told after each page.
    func run<C: Clock>(
        store: VerifyStore,
        api: any WebinarAPI,
        clocks: Clocks<C>,
        stamp: String,
        progress: (VerifyCounts) -> Void = { _ in }
    ) async throws -> [VerifyCounts] {
        var all: [VerifyCounts] = []
        for (schedule, _) in try store.schedules() {
            try Task.checkCancellation()
            all.append(
                try await verify(schedule, store: store, api: api, clocks: clocks, stamp: stamp, progress: progress)
            )
        }
        return all
    }

    private func verify<C: Clock>(
        _ schedule: VerifyStore.Schedule,
        store: VerifyStore,
        api: any WebinarAPI,
        clocks: Clocks<C>,
        stamp: String,
        progress: (VerifyCounts) -> Void
    ) async throws -> VerifyCounts {
        var counts = VerifyCounts(
            platform: schedule.platform,
            webinarID: schedule.webinarID,
            schedule: schedule.schedule
        )
        let byEmail = try store.doneJobs(schedule)
        counts.jobs = byEmail.values.reduce(0) { $0 + $1.count }
        var settled = Set<Int>()
        var unsettled = Set<Int>()
        var page = 1
        var previous: [Registrant]?
        var failures = 0
        var calls: [CallRecord] = []
        while true {
            try Task.checkCancellation()
            let query = RegistrantsQuery(
                platform: schedule.platform,
                webinarID: schedule.webinarID,
                scheduleID: schedule.schedule,
                page: page
            )
            let answer: RegistrantsPage
            let (startedAt, started) = (clocks.wall(), clocks.monotonic.now)
            let result = await api.registrants(query)
            calls.append(
                CallRecord(
                    at: startedAt,
                    latency: started.duration(to: clocks.monotonic.now).seconds,
                    job: nil,
                    method: .registrants,
                    failure: result.failure,
                    attempt: failures + 1,
                    reason: result.failure == nil ? "page \(page) (verify)" : nil
                )
            )
            switch result {
            case .success(let p):
                answer = p
                failures = 0
            case .failure(let failure):
                // The vendor's trouble on a page is waited out a few times (1, 2, 4, 8 s);
                // anything else, or trouble that lasts, ends this schedule's pass unfinished.
                if case .retry = OutcomePolicy.decide(.registrantsCheck, failure, history: CallHistory()),
                    failures < Self.pageRetries
                {
                    failures += 1
                    try await clocks.monotonic.sleep(for: .seconds(1 << (failures - 1)))
                    continue
                }
                counts.error = "registrants page \(page): \(failure.text)"
                try store.record([], calls: calls, at: clocks.wall(), stamp: stamp)
                return counts
            }
            counts.pages += 1
            var findings: [VerifyStore.Finding] = []
            for row in answer.registrants {
                if let id = row.scheduleID, id != schedule.schedule { continue }
                let email = row.email.lowercased()
                let candidates = (byEmail[email] ?? []).filter { !settled.contains($0.id) }
                switch Self.match(rowDate: row.date, platform: schedule.platform, candidates: candidates) {
                case .none:
                    if byEmail[email] == nil { counts.vendorOnly += 1 }
                case .ambiguous:
                    for job in candidates { unsettled.insert(job.id) }
                case .job(let id):
                    guard let job = candidates.first(where: { $0.id == id }) else { continue }
                    settled.insert(id)
                    unsettled.remove(id)
                    if AttendeeLink.same(job.liveRoomURL, row.liveRoomURL)
                        && (row.replayRoomURL == nil || AttendeeLink.same(job.replayRoomURL, row.replayRoomURL))
                    {
                        counts.confirmed += 1
                        findings.append(.confirmed(job: id))
                    } else {
                        counts.changed += 1
                        if refresh { counts.refreshed += 1 }
                        findings.append(
                            .changed(
                                job: id,
                                live: row.liveRoomURL,
                                replay: row.replayRoomURL ?? job.replayRoomURL,
                                refresh: refresh
                            )
                        )
                    }
                }
            }
            try store.record(findings, calls: calls, at: clocks.wall(), stamp: stamp)
            calls.removeAll()
            progress(counts)
            guard answer.continues(after: page, previous: previous) else { break }
            previous = answer.registrants
            page += 1
        }
        // A complete pass: a done job no row stood for is not at the vendor any more.
        var missing: [VerifyStore.Finding] = []
        for jobs in byEmail.values {
            for job in jobs where !settled.contains(job.id) && !unsettled.contains(job.id) {
                missing.append(.notFound(job: job.id))
            }
        }
        counts.unsettled = unsettled.count
        counts.notFound = missing.count
        try store.record(missing, at: clocks.wall(), stamp: stamp)
        progress(counts)
        return counts
    }
}

extension Verifier {
    /// Verifies the database at `path` while holding its runner lease (a run cannot start
    /// meanwhile, and a verify cannot start under a run).
    /// - Parameters:
    ///   - clocks: the wall clock (stored as `verified_at`), the monotonic one for latencies
    ///     and the lease's heartbeat.
    ///   - stamp: the time as messages show it (`2026-12-02 18:10`).
    package func run<C: Clock>(
        databasePath path: String,
        api: any WebinarAPI,
        clocks: Clocks<C>,
        stamp: String,
        progress: (VerifyCounts) -> Void = { _ in }
    ) async throws -> [VerifyCounts] {
        let leases = try JobStore(path: path)
        let lease = try await leases.acquireLease(pid: getpid(), host: LeaseProcess.hostName, now: clocks.wall())
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await clocks.monotonic.sleep(for: .seconds(5))
                _ = try? await leases.heartbeat(lease: lease, now: clocks.wall())
            }
        }
        defer { heartbeat.cancel() }
        do {
            let counts = try await run(
                store: try VerifyStore(path: path),
                api: api,
                clocks: clocks,
                stamp: stamp,
                progress: progress
            )
            try? await leases.releaseLease(lease)
            return counts
        } catch {
            try? await leases.releaseLease(lease)
            throw error
        }
    }
}
