import WebinarAPI

/// What a call was, for the outcome policy.
package enum CallKind: String, Sendable, CaseIterable {
    /// `register` for one job.
    case register
    /// A page of `registrants`, to learn whether an uncertain job's person is registered.
    case registrantsCheck = "registrants-check"
    /// The `webinar` call made before a target's first registration.
    case webinarCheck = "webinar-check"
}

/// What the policy needs to know of the past of the thing being called about (a job, or a
/// target for the webinar check).
package struct CallHistory: Sendable, Equatable {
    /// Register attempts already spent (calls that may have counted at the vendor or were
    /// refused as trouble). For checks: failed checks in a row.
    package var attempts: Int
    /// The limit of attempts (`--max-attempts`).
    package var maxAttempts: Int
    /// The words of the last error answer, and how many consecutive answers carried them.
    package var lastWords: String?
    package var repeats: Int

    package init(attempts: Int = 0, maxAttempts: Int = 6, lastWords: String? = nil, repeats: Int = 0) {
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.lastWords = lastWords
        self.repeats = repeats
    }

    /// The history after an answer with `words` (nil: an answer that is not an error).
    package func after(words: String?) -> CallHistory {
        var next = self
        if let words, words == lastWords {
            next.repeats += 1
        } else {
            next.lastWords = words
            next.repeats = words == nil ? 0 : 1
        }
        return next
    }
}

/// One action for the runner to execute. The policy decides; the runner only performs.
package enum OutcomeAction: Sendable, Equatable {
    /// The call succeeded: go on with its value (store `done`, read the page, check the schedule).
    case proceed
    /// Permanently failed, with these words (the job, or every job of the target).
    case fail(String)
    /// Nothing was done at the vendor: try again after backoff level `level` (at least
    /// `minimum`); `spendsAttempt` says whether the job's attempt counter grows.
    case retry(level: Int, minimum: Duration, spendsAttempt: Bool, reason: String)
    /// 429 (in any envelope): the shared limiter pauses ≥ 1 s; the call is retried, no attempt.
    case rateLimited
    /// The vendor may have acted without our seeing the answer: the job is `uncertain`, and is
    /// checked with `registrants` after the settle time before it is ever sent again.
    case uncertain(String)
    /// The request certainly never left (refused, DNS, TLS handshake): no attempt spent; the
    /// whole run pauses (one probe per pause) until the API answers again.
    case unreachable(String)
    /// The key was refused: stop the whole run, jobs stay as they are.
    case stop(String)
}

/// The outcome policy: from what a call was, its answer, and the history, to one action.
/// No SQLite, no HTTP, no clock: table-tested in `OutcomePolicyTests`.
package enum OutcomePolicy {
    /// How many consecutive identical unexplained answers prove the request at fault.
    package static let unexplainedRepeatsToFail = 3
    /// How many consecutive rejections of a webinar check prove the target wrong.
    package static let webinarRejectionsToFail = 2
    /// The pause between two webinar checks answered "not found" (seen twice, seconds apart).
    package static let webinarRecheckDelay: Duration = .seconds(5)

    /// Decides what to do with an answer.
    /// - Parameters:
    ///   - kind: what the call was.
    ///   - failure: nil for a success, else the classified failure.
    ///   - history: the job's (or target's) history before this answer.
    package static func decide(_ kind: CallKind, _ failure: APIFailure?, history: CallHistory) -> OutcomeAction {
        guard let failure else { return .proceed }
        switch failure {
        case .rateLimited:
            return .rateLimited
        case .unauthorized(let message):
            return .stop(
                "the API key was refused: \(message). Nothing more was sent with it; fix the key and run again "
                    + "(the remaining jobs stay queued)."
            )
        case .transient(let reason, false):
            return .unreachable(reason)
        default:
            break
        }
        let next = history.after(words: failure.text)
        switch kind {
        case .register:
            switch failure {
            case .rejected:
                return .fail(failure.text)
            case .unexplained:
                if next.repeats >= unexplainedRepeatsToFail { return .fail(failure.text) }
                return spend(history, failure.text)
            case .busy:
                return spend(history, failure.text)
            case .timedOut(let reason), .transient(let reason, true):
                return .uncertain(reason)
            default:
                return .uncertain(failure.text)
            }
        case .registrantsCheck:
            // A check never fails a lead for lack of an answer: nobody knows yet.
            return .retry(
                level: history.attempts + 1,
                minimum: .zero,
                spendsAttempt: false,
                reason: "checking the registrants: \(failure.text)"
            )
        case .webinarCheck:
            switch failure {
            case .rejected:
                if next.repeats >= webinarRejectionsToFail { return .fail(failure.text) }
                return .retry(level: 1, minimum: webinarRecheckDelay, spendsAttempt: false, reason: failure.text)
            case .unexplained:
                if next.repeats >= unexplainedRepeatsToFail { return .fail(failure.text) }
                return .retry(
                    level: history.attempts + 1,
                    minimum: .zero,
                    spendsAttempt: false,
                    reason: "checking the webinar: \(failure.text)"
                )
            default:
                return .retry(
                    level: history.attempts + 1,
                    minimum: .zero,
                    spendsAttempt: false,
                    reason: "checking the webinar: \(failure.text)"
                )
            }
        }
    }

    /// Vendor trouble on a register call that certainly did nothing: an attempt is spent;
    /// after `maxAttempts` the job fails with the vendor's words.
    private static func spend(_ history: CallHistory, _ words: String) -> OutcomeAction {
        let attempts = history.attempts + 1
        if attempts >= history.maxAttempts {
            return .fail("gave up after \(attempts) attempts: \(words)")
        }
        return .retry(level: attempts, minimum: .zero, spendsAttempt: true, reason: words)
    }
}

/// Run-wide health: trouble that repeats across many calls is the vendor's, not the leads'.
/// Pure; the runner feeds it every answer and pauses the whole run when it says so.
package struct RunHealth: Sendable, Equatable {
    /// Why the run pauses.
    package enum Pause: Sendable, Equatable {
        /// The request never left (refused, DNS, TLS).
        case unreachable(String)
        /// Calls keep running past the request timeout.
        case slow(String)
        /// The vendor keeps answering trouble (5xx, "try again later").
        case trouble(String)

        /// The words for the progress line.
        package var message: String {
            switch self {
            case .unreachable: return "API unreachable"
            case .slow: return "the API answers slower than --request-timeout"
            case .trouble: return "the API is in trouble"
            }
        }

        /// Why.
        package var reason: String {
            switch self {
            case .unreachable(let reason), .slow(let reason), .trouble(let reason): return reason
            }
        }
    }

    /// Consecutive timeouts (no proof of health in between) before the run pauses.
    package static let timeoutsToPause = 3
    /// Consecutive trouble answers before the run pauses.
    package static let troubleToPause = 8

    package private(set) var timeouts = 0
    package private(set) var trouble = 0

    package init() {}

    /// What an answer says about the vendor as a whole.
    package enum Verdict: Sendable, Equatable {
        /// The API answered as an application does: any pause is over.
        case healthy
        /// Nothing to say (yet).
        case unchanged
        /// Pause the run.
        case pause(Pause)
    }

    /// Records one answer (nil failure: a success).
    package mutating func record(_ failure: APIFailure?) -> Verdict {
        guard let failure else {
            timeouts = 0
            trouble = 0
            return .healthy
        }
        switch failure {
        case .rateLimited, .unauthorized, .rejected, .unexplained:
            timeouts = 0
            trouble = 0
            return .healthy
        case .transient(let reason, false):
            return .pause(.unreachable(reason))
        case .timedOut(let reason):
            timeouts += 1
            return timeouts >= Self.timeoutsToPause ? .pause(.slow(reason)) : .unchanged
        case .busy(_, let reason), .transient(let reason, true):
            timeouts = 0
            trouble += 1
            return trouble >= Self.troubleToPause ? .pause(.trouble(reason)) : .unchanged
        }
    }
}
