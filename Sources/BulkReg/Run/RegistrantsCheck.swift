import Pacing
import WebinarAPI

/// What one job's check learned from the vendor's rows. Pure; table-tested.
package enum RegistrantMatch: Sendable, Equatable {
    /// The person is registered for this job's webinar, schedule (and session): done.
    case found(Registrant)
    /// No row of this person for this target: not registered (yet; see the settle rule).
    case notFound
    /// Rows exist, but they cannot tell this job from another job of the same person.
    case ambiguous(String)
    /// A row was found without a live-room URL: registered, but not provably with links.
    case noURL

    /// Matches the vendor's rows for `request`'s email against the job.
    /// - Parameters:
    ///   - rows: every row of the target's registrants with the job's email (any case).
    ///   - siblings: ids of other jobs of this person for the same webinar and schedule on
    ///     another EverWebinar session date, which may be registered.
    package static func decide(_ request: RegistrationRequest, rows: [Registrant], siblings: [Int]) -> RegistrantMatch {
        let email = request.email.lowercased()
        let candidates = rows.filter {
            $0.email.lowercased() == email && ($0.scheduleID == nil || $0.scheduleID == request.schedule)
        }
        guard !candidates.isEmpty else { return .notFound }
        func pick(_ rows: [Registrant]) -> RegistrantMatch {
            if let row = rows.first(where: { !($0.liveRoomURL ?? "").isEmpty }) { return .found(row) }
            return .noURL
        }
        let date = request.date ?? ""
        guard request.platform == .everwebinar, !date.isEmpty else { return pick(candidates) }
        let wanted = sessionKey(date)
        let exact = candidates.filter { $0.date.map(sessionKey) == wanted }
        if !exact.isEmpty { return pick(exact) }
        let undated = candidates.filter { ($0.date ?? "").isEmpty }
        // Rows dated for other sessions are those sessions' registrations.
        guard !undated.isEmpty else { return .notFound }
        guard siblings.isEmpty else {
            let list = siblings.sorted().map { "job \($0)" }.joined(separator: ", ")
            return .ambiguous(
                "the vendor's registrants rows carry no session date, so this registration cannot be told apart from "
                    + "\(list) (the same person in another session of this schedule); "
                    + "`bulkreg retry --job ID --force` sends it anyway"
            )
        }
        return pick(undated)
    }

    /// `2025-01-01 09:00`, `2025-01-01 09:00:00`, `2025-01-01T09:00` → `2025-01-01 09:00`.
    static func sessionKey(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "T", with: " ")
        return String(trimmed.prefix(16))
    }
}

/// The settle rule (RELIABILITY.md "At most once"). Pure.
package enum SettleRule {
    /// How long after a possibly-sent call its absence can be believed: max(2 × request
    /// timeout, 3 × p99 latency, minimum). A client's deadline does not bound the vendor's work.
    package static func settleTime(requestTimeout: Duration, p99: Double?, minimum: Duration) -> Duration {
        var settle = max(requestTimeout * 2, minimum)
        if let p99 { settle = max(settle, .seconds(p99 * 3)) }
        return settle
    }

    /// The wait before checking a job sent at `sentAt` (wall clock) in an earlier run, clamped
    /// to `0…settle`: a wall clock stepped back (or forward) moves a check by at most one settle.
    package static func wait(sentAt: Double?, now: Double, settle: Duration) -> Duration {
        guard let sentAt else { return settle }
        let remaining = sentAt + settle.seconds - now
        return .seconds(min(max(remaining, 0), settle.seconds))
    }
}

/// One pass over a target's registrants serves every job of that target waiting for a check:
/// the first worker to need it reads every page (through the limiter), the others wait for its
/// result. A pass serves a job only if it started after the job's `notBefore`.
actor RegistrantsPasses<C: Clock> where C.Duration == Duration {
    struct Key: Hashable, Sendable {
        var platform: Platform
        var webinarID: Int
        var schedule: Int
    }

    /// The rows of the wanted emails (lowercased), or the failure that ended the pass.
    enum Outcome: Sendable {
        case rows([String: [Registrant]])
        case failed(APIFailure)
        case stopped
    }

    private struct Pass {
        var id: Int
        var start: C.Instant
        var wanted: Set<String>
        var task: Task<Outcome, Never>
    }

    private let clock: C
    private var running: [Key: Pass] = [:]
    private var waiting: [Key: [String: Int]] = [:]
    /// Passes made (for tests and the summary).
    private(set) var passes = 0

    init(clock: C) { self.clock = clock }

    /// The outcome of a pass that started at or after `notBefore` and looked for `email`.
    /// `perform` reads the pages for a set of emails.
    func outcome(
        email: String,
        key: Key,
        notBefore: C.Instant,
        perform: @escaping @Sendable (Set<String>) async -> Outcome
    ) async -> Outcome {
        let email = email.lowercased()
        waiting[key, default: [:]][email, default: 0] += 1
        defer {
            waiting[key]?[email]? -= 1
            if waiting[key]?[email] == 0 { waiting[key]?[email] = nil }
        }
        while true {
            if let pass = running[key] {
                let result = await pass.task.value
                if running[key]?.id == pass.id { running[key] = nil }
                if pass.start >= notBefore && pass.wanted.contains(email) { return result }
                continue
            }
            let wanted = Set(waiting[key, default: [:]].keys)
            let task = Task { await perform(wanted) }
            passes += 1
            let pass = Pass(id: passes, start: clock.now, wanted: wanted, task: task)
            running[key] = pass
            let result = await task.value
            if running[key]?.id == pass.id { running[key] = nil }
            return result
        }
    }
}
