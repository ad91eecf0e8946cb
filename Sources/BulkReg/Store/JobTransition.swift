import SQLite

/// Everything that changes a job's state, and from which states it may.
///
/// This is the one table of allowed transitions: every `UPDATE jobs SET state …` in the code
/// is built by `JobEvent.update(set:where:)` from it, so a statement can only move a job that
/// is in one of the event's `from` states — a job cancelled, replaced or settled meanwhile is
/// left alone, and the caller learns it from the number of rows changed. Runner events also
/// carry the runner lease's guard: a run whose lease was taken over changes nothing.
package enum JobEvent: String, CaseIterable, Sendable {
    /// The runner is about to send a register call (the intent is durable before the call).
    case claim
    /// Claimed, then not sent (the run stopped between the claim and the call's slot).
    case release
    /// The register call answered with the person's links.
    case registered
    /// A registrants check found the person: registered, with the listed links.
    case found
    /// The vendor refused the register call for good.
    case refused
    /// The target's webinar check says the webinar, schedule or date does not exist (no call sent).
    case targetMissing
    /// A registrants check confirms the person is not registered, and no attempts are left.
    case gaveUp
    /// The register call got trouble that proves it was not stored: back in the queue.
    case postponed
    /// Trouble before any call of the job went out (its target's check): the job keeps its
    /// state; only its note changes.
    case deferred
    /// The register call may have reached the vendor: checked before any re-send.
    case maybeSent
    /// A check could not settle an uncertain job (ambiguous rows, no URL): its reason noted.
    case noted
    /// A run starts and finds jobs a dead process left in flight.
    case interrupted
    /// `bulkreg cancel`.
    case cancel
    /// `bulkreg retry`: failed → queued, or uncertain when its last call may have reached the vendor.
    case retry
    /// `bulkreg retry --force`: sent again without a check.
    case forceRetry
    /// A corrected import takes over the person: the earlier row becomes a duplicate of it.
    case replace
    /// The corrected row of a job whose last call may have reached the vendor: checked first.
    case carryCheck
    /// Bulk import: a row taken for a duplicate is another person after all (a key collision).
    case collision
    /// `bulkreg verify` does not find a registered person at the vendor (a settle apart).
    case verifiedMissing

    /// Where a job may go from, and to.
    package struct Transition: Sendable {
        package var from: Set<JobState>
        /// The new state, or nil when the state stays (`deferred`, `noted`).
        package var to: To
        /// Guarded by the runner lease (the event is the runner's).
        package var runner: Bool
    }

    package enum To: Sendable, Equatable {
        case state(JobState)
        /// The state stays; other columns change.
        case unchanged
        /// `uncertain` when the job's last call may have reached the vendor, else `queued`.
        case checkedIfMaybeSent
    }

    /// The table.
    package var transition: Transition {
        switch self {
        case .claim: return Transition(from: [.queued, .uncertain], to: .state(.inFlight), runner: true)
        case .release: return Transition(from: [.inFlight], to: .state(.queued), runner: true)
        case .registered: return Transition(from: [.inFlight], to: .state(.done), runner: true)
        case .found: return Transition(from: [.uncertain], to: .state(.done), runner: true)
        case .refused: return Transition(from: [.inFlight], to: .state(.failed), runner: true)
        case .targetMissing: return Transition(from: [.queued, .uncertain], to: .state(.failed), runner: true)
        case .gaveUp: return Transition(from: [.uncertain], to: .state(.failed), runner: true)
        case .postponed: return Transition(from: [.inFlight], to: .state(.queued), runner: true)
        case .deferred: return Transition(from: [.queued, .uncertain], to: .unchanged, runner: true)
        case .maybeSent: return Transition(from: [.inFlight], to: .state(.uncertain), runner: true)
        case .noted: return Transition(from: [.uncertain], to: .unchanged, runner: true)
        case .interrupted: return Transition(from: [.inFlight], to: .state(.uncertain), runner: true)
        case .cancel: return Transition(from: [.queued, .failed], to: .state(.cancelled), runner: false)
        case .retry: return Transition(from: [.failed], to: .checkedIfMaybeSent, runner: false)
        case .forceRetry: return Transition(from: [.failed, .uncertain], to: .state(.queued), runner: false)
        case .replace: return Transition(from: [.queued, .failed, .cancelled], to: .state(.duplicate), runner: false)
        case .carryCheck: return Transition(from: [.queued], to: .state(.uncertain), runner: false)
        case .collision: return Transition(from: [.duplicate], to: .state(.queued), runner: false)
        case .verifiedMissing: return Transition(from: [.done], to: .state(.failed), runner: false)
        }
    }

    /// The state `event` leads a job in `state` to, or nil when it is not allowed from there
    /// (`maybeSent` decides `retry`'s two outcomes).
    package func next(from state: JobState, maybeSent: Bool = false) -> JobState? {
        let t = transition
        guard t.from.contains(state) else { return nil }
        switch t.to {
        case .state(let to): return to
        case .unchanged: return state
        case .checkedIfMaybeSent: return maybeSent ? .uncertain : .queued
        }
    }

    /// `UPDATE jobs SET state = …, <set> WHERE (<condition>) AND state IN (<from>)`, plus the
    /// runner lease's guard for runner events — its value is bound last (`:lease`), after
    /// the statement's own values.
    package func update(set: String, where condition: String) -> String {
        let t = transition
        let state: String
        switch t.to {
        case .state(let to): state = "state = '\(to.rawValue)', "
        case .unchanged: state = ""
        case .checkedIfMaybeSent: state = "state = CASE WHEN maybe_sent = 1 THEN 'uncertain' ELSE 'queued' END, "
        }
        let from = t.from.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        let lease = t.runner ? " AND (SELECT token FROM runner_lease WHERE id = 1) IS :lease" : ""
        return "UPDATE jobs SET \(state)\(set) WHERE (\(condition)) AND state IN (\(from))\(lease)"
    }
}
