import BulkReg
import Testing

@testable import WebinarAPI

/// The outcome policy as a table: (call kind, answer, history) → action.
@Suite("Outcome policy")
struct OutcomePolicyTests {
    static let trouble = APIFailure.busy(
        httpStatus: 200,
        message: "Service temporarily unavailable, please try again later"
    )
    static let odd = APIFailure.unexplained(httpStatus: 200, message: "Registration refused")
    static let field = APIFailure.rejected(httpStatus: 422, message: "email: The email must be a valid email address.")
    static let notFound = APIFailure.rejected(httpStatus: 400, message: "Webinar not found")
    static let page = APIFailure.transient(reason: "HTTP 520 from the API", mayHaveReachedVendor: true)
    static let refused = APIFailure.transient(reason: "connection refused", mayHaveReachedVendor: false)
    static let timeout = APIFailure.timedOut(reason: "read timeout")

    enum Kind: Equatable { case proceed, fail, retrySpends, retryFree, rateLimited, uncertain, unreachable, stop }

    static func kind(_ action: OutcomeAction) -> Kind {
        switch action {
        case .proceed: return .proceed
        case .fail: return .fail
        case .retry(_, _, let spends, _): return spends ? .retrySpends : .retryFree
        case .rateLimited: return .rateLimited
        case .uncertain: return .uncertain
        case .unreachable: return .unreachable
        case .stop: return .stop
        }
    }

    static let fresh = CallHistory(attempts: 0, maxAttempts: 6)

    static let table: [(CallKind, APIFailure?, CallHistory, Kind)] = [
        // register
        (.register, nil, fresh, .proceed),
        (.register, .rateLimited, fresh, .rateLimited),
        (.register, .unauthorized(message: "You must specify a valid API key"), fresh, .stop),
        (.register, field, fresh, .fail),
        (.register, trouble, fresh, .retrySpends),
        (.register, trouble, CallHistory(attempts: 5, maxAttempts: 6), .fail),
        (.register, odd, fresh, .retrySpends),
        (.register, odd, CallHistory(attempts: 1, maxAttempts: 6, lastWords: odd.text, repeats: 1), .retrySpends),
        (.register, odd, CallHistory(attempts: 2, maxAttempts: 6, lastWords: odd.text, repeats: 2), .fail),
        (.register, odd, CallHistory(attempts: 2, maxAttempts: 6, lastWords: "other words", repeats: 2), .retrySpends),
        (.register, page, fresh, .uncertain),
        (.register, timeout, fresh, .uncertain),
        (.register, refused, fresh, .unreachable),
        // registrants check: never fails a lead
        (.registrantsCheck, nil, fresh, .proceed),
        (.registrantsCheck, .rateLimited, fresh, .rateLimited),
        (.registrantsCheck, trouble, CallHistory(attempts: 50, maxAttempts: 6), .retryFree),
        (.registrantsCheck, field, fresh, .retryFree),
        (.registrantsCheck, odd, CallHistory(attempts: 9, maxAttempts: 6, lastWords: odd.text, repeats: 9), .retryFree),
        (.registrantsCheck, page, fresh, .retryFree),
        (.registrantsCheck, timeout, fresh, .retryFree),
        (.registrantsCheck, refused, fresh, .unreachable),
        (.registrantsCheck, .unauthorized(message: "key"), fresh, .stop),
        // webinar check: an ordinary call; fails its target only on proof
        (.webinarCheck, nil, fresh, .proceed),
        (.webinarCheck, trouble, CallHistory(attempts: 20, maxAttempts: 6), .retryFree),
        (.webinarCheck, page, fresh, .retryFree),
        (.webinarCheck, notFound, fresh, .retryFree),
        (
            .webinarCheck, notFound, CallHistory(attempts: 1, maxAttempts: 6, lastWords: notFound.text, repeats: 1),
            .fail
        ),
        (.webinarCheck, odd, CallHistory(attempts: 1, maxAttempts: 6, lastWords: odd.text, repeats: 1), .retryFree),
        (.webinarCheck, odd, CallHistory(attempts: 2, maxAttempts: 6, lastWords: odd.text, repeats: 2), .fail),
        (.webinarCheck, refused, fresh, .unreachable),
        (.webinarCheck, .rateLimited, fresh, .rateLimited),
    ]

    @Test("each call kind, each class, the repeats rule", arguments: table.indices)
    func decide(_ index: Int) {
        let (kind, failure, history, expected) = Self.table[index]
        let action = OutcomePolicy.decide(kind, failure, history: history)
        #expect(Self.kind(action) == expected, "\(kind) \(String(describing: failure)) \(history) → \(action)")
    }

    @Test("the webinar not found is re-checked seconds later, not at once")
    func notFoundWaits() {
        guard
            case .retry(_, let minimum, _, _) = OutcomePolicy.decide(.webinarCheck, Self.notFound, history: Self.fresh)
        else {
            Issue.record("expected retry")
            return
        }
        #expect(minimum >= .seconds(2))
    }

    @Test("a failed lead keeps the vendor's words")
    func words() {
        let history = CallHistory(attempts: 2, maxAttempts: 6, lastWords: Self.odd.text, repeats: 2)
        #expect(OutcomePolicy.decide(.register, Self.odd, history: history) == .fail("Registration refused"))
        #expect(
            OutcomePolicy.decide(.register, Self.field, history: Self.fresh)
                == .fail("email: The email must be a valid email address. (HTTP 422)")
        )
    }

    @Test("run health: timeouts and trouble that repeat pause the run; an answer proving health ends it")
    func health() {
        var health = RunHealth()
        #expect(health.record(Self.timeout) == .unchanged)
        #expect(health.record(Self.timeout) == .unchanged)
        #expect(health.record(Self.timeout) == .pause(.slow("read timeout")))
        #expect(health.record(nil) == .healthy)
        for _ in 1..<RunHealth.troubleToPause { #expect(health.record(Self.page) == .unchanged) }
        #expect(health.record(Self.trouble) == .pause(.trouble(Self.trouble.text)))
        #expect(health.record(Self.field) == .healthy)
        #expect(health.record(Self.refused) == .pause(.unreachable("connection refused")))
        #expect(RunHealth.Pause.slow("x").message == "the API answers slower than --request-timeout")
    }
}

@Suite("Registrants match and settle rule")
struct RegistrantMatchTests {
    static func request(_ email: String, platform: Platform = .webinarjam, date: String? = nil) -> RegistrationRequest {
        RegistrationRequest(platform: platform, webinarID: 6, schedule: 56, firstName: "A", email: email, date: date)
    }

    static func row(
        _ email: String,
        schedule: Int? = 56,
        date: String? = nil,
        live: String? = "https://x/live"
    ) -> Registrant {
        Registrant(id: 1, leadID: 9, email: email, scheduleID: schedule, date: date, liveRoomURL: live)
    }

    @Test("match table")
    func table() {
        let wj = Self.request("a@x.com")
        #expect(RegistrantMatch.decide(wj, rows: [], siblings: []) == .notFound)
        #expect(RegistrantMatch.decide(wj, rows: [Self.row("A@X.com")], siblings: []) == .found(Self.row("A@X.com")))
        #expect(RegistrantMatch.decide(wj, rows: [Self.row("a@x.com", schedule: 57)], siblings: []) == .notFound)
        #expect(RegistrantMatch.decide(wj, rows: [Self.row("a@x.com", live: nil)], siblings: []) == .noURL)
        let ew = Self.request("a@x.com", platform: .everwebinar, date: "2026-12-03 13:00")
        // Dated rows: the session decides.
        #expect(
            RegistrantMatch.decide(ew, rows: [Self.row("a@x.com", date: "2026-12-02 13:00")], siblings: [4])
                == .notFound
        )
        #expect(
            RegistrantMatch.decide(ew, rows: [Self.row("a@x.com", date: "2026-12-03 13:00:00")], siblings: [4])
                == .found(Self.row("a@x.com", date: "2026-12-03 13:00:00"))
        )
        // Undated rows: alone they are this job's; beside another session's job they prove nothing.
        #expect(RegistrantMatch.decide(ew, rows: [Self.row("a@x.com")], siblings: []) == .found(Self.row("a@x.com")))
        guard case .ambiguous(let why) = RegistrantMatch.decide(ew, rows: [Self.row("a@x.com")], siblings: [4]) else {
            Issue.record("expected ambiguous")
            return
        }
        #expect(why.contains("job 4"))
    }

    @Test("settle time and the wait across runs, clamped")
    func settle() {
        #expect(SettleRule.settleTime(requestTimeout: .seconds(30), p99: nil, minimum: .seconds(60)) == .seconds(60))
        #expect(SettleRule.settleTime(requestTimeout: .seconds(45), p99: 1, minimum: .seconds(60)) == .seconds(90))
        #expect(SettleRule.settleTime(requestTimeout: .seconds(1), p99: 40, minimum: .seconds(60)) == .seconds(120))
        let settle = Duration.seconds(60)
        #expect(SettleRule.wait(sentAt: 1_000, now: 1_030, settle: settle) == .seconds(30))
        #expect(SettleRule.wait(sentAt: 1_000, now: 5_000, settle: settle) == .zero)
        // The wall clock stepped back an hour: the send looks an hour ahead; one settle at most.
        #expect(SettleRule.wait(sentAt: 1_000 + 3_600, now: 1_000, settle: settle) == settle)
        #expect(SettleRule.wait(sentAt: nil, now: 1_000, settle: settle) == settle)
    }

    @Test("in flight follows the latency (Little's law), within the cap")
    func inFlight() {
        #expect(InFlightTarget.target(rate: 20, p95: 0.2, cap: 620) == 16)
        #expect(InFlightTarget.target(rate: 20, p95: 4, cap: 620) == 92)
        #expect(InFlightTarget.target(rate: 20, p95: 8, cap: 620) == 172)
        #expect(InFlightTarget.target(rate: 20, p95: 8, cap: 40) == 40)
        #expect(InFlightTarget.target(rate: 20, p95: 0, cap: 620) == 12)
        var window = LatencyWindow(capacity: 4)
        for s in [1.0, 2, 3, 4, 10] { window.record(s) }
        #expect(window.count == 4)
        #expect(window.quantile(0.95) == 10)
        #expect(window.quantile(0.5) == 3)
        // Before 32 calls are known: the slowest × 1.5; then the p95.
        var planning = LatencyWindow()
        #expect(planning.forPlanning == nil)
        planning.record(6)
        #expect(planning.forPlanning == 9)
        for i in 0..<40 { planning.record(Double(i % 4) + 5) }
        #expect(planning.forPlanning == 8)
    }
}
