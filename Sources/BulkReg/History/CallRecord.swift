import WebinarAPI

/// What a recorded call was. Stored as a small integer (`calls.method`).
package enum CallMethod: Int, Sendable, CaseIterable {
    /// `register` for one job.
    case register = 1
    /// `webinar`: the check before a target's first registration (recorded with the job that
    /// waited for it).
    case webinar = 2
    /// One page of `registrants` (a check's pass or `verify`); a page serves many jobs, so it
    /// carries none.
    case registrants = 3
    /// Not a call of its own: the verdict of a registrants check for one job (found, not
    /// found, ambiguous, or the failure that stopped the pass), so `show` tells the job's story.
    /// The page calls that answered it are the `registrants` rows.
    case check = 4

    package var label: String {
        switch self {
        case .register: return "register"
        case .webinar: return "webinar"
        case .registrants: return "registrants"
        case .check: return "registrants check"
        }
    }

    /// The methods that are calls at the vendor (what rate and latency figures count).
    package static let calls: [CallMethod] = [.register, .webinar, .registrants]
}

/// The class of a call's answer (SPEC "Errors"), or a check's verdict. Stored as a small
/// integer (`calls.outcome`); the labels are the runner's log words.
package enum CallOutcome: Int, Sendable, CaseIterable {
    case success = 0
    case rateLimited = 1
    case keyRefused = 2
    case requestAtFault = 3
    case unexplained = 4
    case vendorBusy = 5
    case timeout = 6
    case vendorTrouble = 7
    case unreachable = 8
    // A check's verdict (method `check`).
    case found = 20
    case notFound = 21
    case ambiguous = 22
    case foundWithoutURL = 23

    package init(_ failure: APIFailure?) {
        switch failure {
        case nil: self = .success
        case .rateLimited?: self = .rateLimited
        case .unauthorized?: self = .keyRefused
        case .rejected?: self = .requestAtFault
        case .unexplained?: self = .unexplained
        case .busy?: self = .vendorBusy
        case .timedOut?: self = .timeout
        case .transient(_, true)?: self = .vendorTrouble
        case .transient(_, false)?: self = .unreachable
        }
    }

    package var label: String {
        switch self {
        case .success: return "success"
        case .rateLimited: return "rate-limited"
        case .keyRefused: return "key-refused"
        case .requestAtFault: return "request-at-fault"
        case .unexplained: return "unexplained"
        case .vendorBusy: return "vendor-busy"
        case .timeout: return "timeout"
        case .vendorTrouble: return "vendor-trouble"
        case .unreachable: return "unreachable"
        case .found: return "found"
        case .notFound: return "not-found"
        case .ambiguous: return "ambiguous"
        case .foundWithoutURL: return "found-without-url"
        }
    }

    /// The vendor could not be reached or did not work: what an outage is made of.
    package var isTrouble: Bool {
        self == .unreachable || self == .vendorTrouble || self == .timeout
    }

    /// The classes of calls at the vendor, in the order the report lists them.
    package static let callClasses: [CallOutcome] = [
        .success, .rateLimited, .vendorBusy, .timeout, .vendorTrouble, .unreachable, .unexplained,
        .requestAtFault, .keyRefused,
    ]
}

/// One API call (or check verdict) in the history (`calls` table): written in the
/// transaction of the state change it led to, so it costs no fsync of its own.
package struct CallRecord: Sendable, Equatable {
    /// Wall-clock start (seconds since 1970).
    package var at: Double
    /// Seconds from the request leaving to its answer (or the timeout).
    package var latency: Double
    /// The job it was for; nil for a registrants page.
    package var job: Int?
    package var method: CallMethod
    package var outcome: CallOutcome
    /// The HTTP status, when the answer carried one that the class keeps.
    package var httpStatus: Int?
    /// The job's attempt number (register), the check's try, or a page's try.
    package var attempt: Int?
    /// A short reason: never the key (answers are cleaned of it) nor an email address.
    package var reason: String?

    package init(
        at: Double,
        latency: Double,
        job: Int?,
        method: CallMethod,
        outcome: CallOutcome,
        httpStatus: Int? = nil,
        attempt: Int?,
        reason: String?
    ) {
        self.at = at
        self.latency = latency
        self.job = job
        self.method = method
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.attempt = attempt
        self.reason = reason.map(Self.shortReason)
    }

    /// A call's record from its answer.
    package init(
        at: Double,
        latency: Double,
        job: Int?,
        method: CallMethod,
        failure: APIFailure?,
        attempt: Int?,
        reason: String? = nil
    ) {
        self.init(
            at: at,
            latency: latency,
            job: job,
            method: method,
            outcome: CallOutcome(failure),
            httpStatus: failure.map(\.httpStatus) ?? 200,
            attempt: attempt,
            reason: reason ?? failure?.text
        )
    }

    /// At most 160 characters, one line, email addresses replaced by `<email>` (a vendor may
    /// echo the lead's address in its message; the history is read by more people than the
    /// database's owner).
    package static func shortReason(_ text: String) -> String {
        var words: [Substring] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }) {
            if let at = word.firstIndex(of: "@"), at != word.startIndex, word[word.index(after: at)...].contains(".") {
                words.append("<email>")
            } else {
                words.append(word)
            }
        }
        let line = words.joined(separator: " ")
        return line.count <= 160 ? line : String(line.prefix(159)) + "…"
    }
}

extension APIFailure {
    /// The HTTP status of the answer, when known: the classes that keep it, 429, and the
    /// statuses our own reasons name (`HTTP 503 from the API`, `(HTTP 401)`); nil when no
    /// answer came (timeouts, transport errors).
    package var httpStatus: Int? {
        switch self {
        case .rateLimited: return 429
        case .rejected(let status, _), .unexplained(let status, _), .busy(let status, _): return status
        case .timedOut: return nil
        case .unauthorized(let text), .transient(let text, _): return Self.statusNamed(in: text)
        }
    }

    /// `HTTP NNN` in a reason this module wrote.
    static func statusNamed(in text: String) -> Int? {
        guard let range = text.range(of: "HTTP ") else { return nil }
        let digits = text[range.upperBound...].prefix(3)
        guard digits.count == 3, digits.allSatisfy(\.isASCII), let status = Int(digits), (100...599).contains(status)
        else { return nil }
        return status
    }
}
