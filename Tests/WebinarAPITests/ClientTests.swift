import Foundation
import Pacing
import PacingTesting
import Testing
import WebinarSim

@testable import WebinarAPI

let testKey = "secret-key-ABCDEF-0123456789"

/// Starts a simulator and a client pointed at it; shuts both down afterwards.
func withClient(
    _ config: SimulatorConfig = SimulatorConfig(rateLimit: 1000),
    key: String = testKey,
    requestTimeout: Duration = .seconds(10),
    maxResponseBodyBytes: Int = HTTPWebinarAPI.defaultMaxResponseBodyBytes,
    _ body: (RunningSimulator, HTTPWebinarAPI) async throws -> Void
) async throws {
    let sim = try await Simulator.start(config: config)
    let api = try HTTPWebinarAPI(
        baseURL: sim.baseURL,
        apiKey: key,
        requestTimeout: requestTimeout,
        maxResponseBodyBytes: maxResponseBodyBytes
    )
    do {
        try await body(sim, api)
    } catch {
        try? await api.shutdown()
        await sim.shutdown()
        throw error
    }
    try await api.shutdown()
    await sim.shutdown()
}

/// The reason of a transient failure that may have reached the vendor
/// (`.transient(reason, true)`); nil for any other answer.
func reachedTrouble(_ failure: APIFailure?) -> String? {
    guard case .transient(let reason, true)? = failure else { return nil }
    return reason
}

func lead(
    _ email: String,
    platform: Platform = .webinarjam,
    webinar: Int = 5,
    schedule: Int = 34
) -> RegistrationRequest {
    RegistrationRequest(
        platform: platform,
        webinarID: webinar,
        schedule: schedule,
        firstName: "Ann",
        lastName: "Lee",
        email: email
    )
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
    var value: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

@Suite("Client against the simulator: outcomes")
struct ClientOutcomeTests {
    @Test("register succeeds on WebinarJam (int schedule) and EverWebinar (string schedule)")
    func registerBoth() async throws {
        try await withClient { sim, api in
            var request = lead("ann@example.com")
            request.phoneCountryCode = "+1"
            request.phone = "5551234"
            let user = try #require(await api.register(request).value)
            #expect(user.userID == 1_234_567)
            #expect(user.webinarID == 5)
            #expect(user.webinarHash == "pqrs7890")
            #expect(user.schedule == 34)
            #expect(user.password == nil)
            #expect(user.date == "2024-01-05 13:00")
            #expect(user.timezone == "America/Los_Angeles")
            #expect(user.liveRoomURL.hasPrefix("https://event.webinarjam.com/go/live/5/"))
            #expect(user.replayRoomURL?.hasPrefix("https://event.webinarjam.com/go/replay/5/") == true)
            #expect(user.thankYouURL?.hasPrefix("https://event.webinarjam.com/registration/thank-you/5/") == true)

            var ever = lead("bob@example.com", platform: .everwebinar, webinar: 6, schedule: 55)
            ever.timezone = "GMT-5"
            ever.date = "2024-01-05 15:00"
            let everUser = try #require(await api.register(ever).value)
            #expect(everUser.schedule == 55)
            #expect(everUser.date == "2024-01-05 15:00")
            #expect(everUser.timezone == "GMT-5")

            let stored = await sim.registrations()
            #expect(stored.map(\.email) == ["ann@example.com", "bob@example.com"])
            #expect(stored[0].phoneCountryCode == "+1")
            #expect(stored[0].userID == user.userID)
            #expect(stored[0].liveRoomURL == user.liveRoomURL)
        }
    }

    @Test("webinars and webinar decode both platforms' shapes")
    func webinars() async throws {
        try await withClient { _, api in
            let list = try #require(await api.webinars(platform: .webinarjam).value)
            #expect(list.map(\.webinarID) == [5, 4, 3, 2, 1])
            #expect(list[0].type == nil)
            #expect(list[0].schedules == ["Every day, 01:00 PM", "Every Saturday, 02:00 PM"])
            #expect(list[3].type == "Single presentation")
            #expect(list[0].webinarHash == "pqrs7890")

            let ever = try #require(await api.webinars(platform: .everwebinar).value)
            #expect(ever.map(\.webinarID) == [7, 6])
            #expect(ever[1].schedules == ["Instant replay", "Just in time", "Every day, 01:00 PM"])

            let six = try #require(await api.webinar(platform: .everwebinar, webinarID: 6, timezone: nil).value)
            #expect(six.schedules.map(\.schedule) == [54, 55, 56])
            #expect(six.schedules[0].isInstantReplay)
            #expect(six.schedules[1].isJustInTime)
            #expect(six.registrationURL == "https://event.webinarjam.com/register/6/uvw1234")
            #expect(six.timezone == "America/Los_Angeles")

            let shifted = try #require(
                await api.webinar(platform: .everwebinar, webinarID: 6, timezone: "GMT+4:30").value
            )
            #expect(shifted.schedules.map(\.date) == ["2024-01-05 00:30", "2024-01-06 00:30", "2024-01-06 01:30"])

            let always = try #require(await api.webinar(platform: .webinarjam, webinarID: 3, timezone: nil).value)
            #expect(always.schedules == [ScheduleInfo(schedule: 31, date: nil, comment: "Always on")])
        }
    }

    @Test("429 is rateLimited")
    func rateLimited() async throws {
        let clock = ManualClock()
        try await withClient(SimulatorConfig(rateLimit: 2, clocks: .manual(clock))) { _, api in
            #expect(await api.webinars(platform: .webinarjam).value != nil)
            #expect(await api.webinars(platform: .everwebinar).value != nil)
            #expect(await api.register(lead("a@example.com")).failure == .rateLimited)
        }
        try await withClient(SimulatorConfig(rateLimit: 1, jsonRateLimitBody: true, clocks: .manual(clock))) { _, api in
            _ = await api.webinars(platform: .webinarjam)
            #expect(await api.webinars(platform: .webinarjam).failure == .rateLimited)
        }
    }

    @Test("missing key (400, array) and bad key (401, string) are unauthorized")
    func unauthorized() async throws {
        try await withClient(key: "") { _, api in
            #expect(
                await api.webinars(platform: .webinarjam).failure
                    == .unauthorized(message: "The api key field is required.")
            )
        }
        try await withClient(key: "short") { _, api in
            #expect(
                await api.register(lead("a@example.com")).failure
                    == .unauthorized(message: "You must specify a valid API key")
            )
        }
    }

    @Test("rejections carry the API's message from each envelope shape")
    func rejections() async throws {
        try await withClient { _, api in
            // errors: object of arrays (with a message beside it), sorted by field.
            var single = lead("ann@example.com", webinar: 2, schedule: 21)
            single.lastName = nil
            #expect(
                await api.register(single).failure
                    == .rejected(
                        httpStatus: 422,
                        message:
                            "last_name: The last name field is required.; phone: The phone field is required.; phone_country_code: The phone country code field is required."
                    )
            )
            // errors: object of strings.
            #expect(
                await api.register(lead("not-an-email")).failure
                    == .rejected(httpStatus: 422, message: "email: The email must be a valid email address.")
            )
            var badPhone = lead("a@example.com")
            badPhone.phone = "555 1234"
            #expect(
                await api.register(badPhone).failure
                    == .rejected(httpStatus: 422, message: "phone: The phone may only contain numbers.")
            )
            // message
            #expect(
                await api.register(lead("a@example.com", webinar: 77)).failure
                    == .rejected(httpStatus: 400, message: "Webinar not found")
            )
            // error
            #expect(
                await api.register(lead("a@example.com", schedule: 99)).failure
                    == .rejected(httpStatus: 400, message: "Invalid schedule 99 for webinar 5")
            )
            // errors: a bare string
            var badZone = lead("a@example.com", platform: .everwebinar, webinar: 6, schedule: 56)
            badZone.timezone = "EST"
            #expect(
                await api.register(badZone).failure
                    == .rejected(httpStatus: 422, message: "Invalid timezone 'EST': use GMT-5, GMT+2 or GMT+4:30")
            )
            var badDate = lead("a@example.com", platform: .everwebinar, webinar: 6, schedule: 56)
            badDate.date = "2024-02-01 13:00"
            let dateFailure = await api.register(badDate).failure
            guard case .rejected(422, let message) = dateFailure else {
                Issue.record("expected a 422 rejection, got \(String(describing: dateFailure))")
                return
            }
            #expect(message.contains("does not match any session of schedule 56"))
        }
    }

    @Test("duplicate policy error is a rejection with the API's message")
    func duplicateRejected() async throws {
        try await withClient(SimulatorConfig(duplicatePolicy: .error, rateLimit: 1000)) { _, api in
            #expect(await api.register(lead("a@example.com")).value != nil)
            #expect(
                await api.register(lead("A@example.com")).failure
                    == .rejected(httpStatus: 422, message: "This email is already registered for this webinar.")
            )
        }
    }

    @Test("registrants: search, schedule and pages decode")
    func registrants() async throws {
        try await withClient(SimulatorConfig(rateLimit: 1000, registrantsPerPage: 2)) { _, api in
            for index in 1...5 { _ = await api.register(lead("p\(index)@example.com")) }
            _ = await api.register(lead("p9@example.com", schedule: 46))
            let first = try #require(await api.registrants(RegistrantsQuery(platform: .webinarjam, webinarID: 5)).value)
            #expect(first.currentPage == 1)
            #expect(first.lastPage == 3)
            #expect(first.registrants.map(\.email) == ["p1@example.com", "p2@example.com"])
            let row = first.registrants[0]
            #expect(row.id == 1)
            #expect(row.leadID == 1_234_567)
            #expect(row.firstName == "Ann")
            #expect(row.scheduleID == 34)
            #expect(row.liveRoomURL?.hasPrefix("https://event.webinarjam.com/go/live/5/") == true)
            #expect(row.replayRoomURL?.hasPrefix("https://event.webinarjam.com/go/replay/5/") == true)
            #expect(row.signupDate?.isEmpty == false)

            let found = try #require(
                await api.registrants(RegistrantsQuery(platform: .webinarjam, webinarID: 5, search: "P3@EXAMPLE")).value
            )
            #expect(found.registrants.map(\.email) == ["p3@example.com"])
            let bySchedule = try #require(
                await api.registrants(RegistrantsQuery(platform: .webinarjam, webinarID: 5, scheduleID: 46)).value
            )
            #expect(bySchedule.registrants.map(\.email) == ["p9@example.com"])
            let last = try #require(
                await api.registrants(RegistrantsQuery(platform: .webinarjam, webinarID: 5, page: 3)).value
            )
            #expect(last.currentPage == 3)
            #expect(last.registrants.map(\.email) == ["p5@example.com", "p9@example.com"])
        }
    }

    @Test("form encoding: +1, spaces, & and unicode arrive intact; extra fields pass through")
    func formEncoding() async throws {
        try await withClient { sim, api in
            var request = RegistrationRequest(
                platform: .webinarjam,
                webinarID: 5,
                schedule: 34,
                firstName: "José María & Co",
                lastName: "O'Brien+Sons",
                email: "jose+tag@example.com",
                phoneCountryCode: "+1",
                phone: "5551234",
                ipAddress: "203.0.113.9",
                timezone: "GMT-5",
                date: "2024-01-05 13:00",
                extraFields: [
                    "country": "US", "custom field=x": "a&b c", "api_key": "hijack", "email": "evil@example.com",
                ]
            )
            request.extraFields["twilio_consent"] = "1"
            #expect(await api.register(request).value != nil)
            let stored = try #require(await sim.registrations().first)
            #expect(stored.firstName == "José María & Co")
            #expect(stored.lastName == "O'Brien+Sons")
            #expect(stored.email == "jose+tag@example.com")
            #expect(stored.phoneCountryCode == "+1")
            #expect(stored.extraFields == ["country": "US", "custom field=x": "a&b c", "twilio_consent": "1"])
        }
    }
}

@Suite("Client against the simulator: faults and transport")
struct ClientFaultTests {
    @Test("5xx is transient and may have reached the vendor")
    func serverError() async throws {
        try await withClient { sim, api in
            await sim.injectFaults([.serverError, .serverError, .serverError])
            for _ in 0..<3 {
                let failure = await api.register(lead("a@example.com")).failure
                let reason = try #require(
                    reachedTrouble(failure),
                    "expected transient, got \(String(describing: failure))"
                )
                #expect(reason.hasPrefix("HTTP 50"))
            }
            #expect(await sim.registrations().isEmpty)
        }
    }

    @Test("an unreadable 200 body is transient (and the registration did happen)")
    func garbage() async throws {
        try await withClient { sim, api in
            await sim.injectFaults([.garbageBody])
            let failure = await api.register(lead("a@example.com")).failure
            let reason = try #require(reachedTrouble(failure), "expected transient, got \(String(describing: failure))")
            #expect(reason.contains("unreadable answer"))
            #expect(await sim.registrations().count == 1)
        }
    }

    @Test("HTTP 200 with a status error naming nothing of the request is the vendor's trouble (busy), not a rejection")
    func statusError() async throws {
        try await withClient { _, api in
            let result = await api.register(lead("a@example.com"))
            #expect(result.value != nil)
        }
        try await withClient { sim, api in
            await sim.injectFaults([.statusError])
            #expect(
                await api.register(lead("a@example.com")).failure
                    == .busy(httpStatus: 200, message: "The registration could not be completed at this time")
            )
        }
    }

    @Test("reset after storing: transient, may have reached the vendor, and it did")
    func resetAfterStore() async throws {
        try await withClient { sim, api in
            await sim.injectFaults([.resetAfterStore])
            let failure = await api.register(lead("ann@example.com")).failure
            #expect(
                failure
                    == .transient(
                        reason: "connection closed by the server before an answer",
                        mayHaveReachedVendor: true
                    )
            )
            #expect(await sim.registrations().map(\.email) == ["ann@example.com"])
            // The runner's check before re-sending finds the person.
            let page = try #require(
                await api.registrants(RegistrantsQuery(platform: .webinarjam, webinarID: 5, search: "ann@example.com"))
                    .value
            )
            #expect(page.registrants.map(\.email) == ["ann@example.com"])
        }
    }

    @Test("reset before storing: transient, mayHaveReachedVendor true (the client cannot know)")
    func resetBeforeStore() async throws {
        try await withClient { sim, api in
            await sim.injectFaults([.resetBeforeStore])
            let failure = await api.register(lead("ann@example.com")).failure
            #expect(reachedTrouble(failure) != nil, "expected transient, got \(String(describing: failure))")
            #expect(await sim.registrations().isEmpty)
        }
    }

    @Test("connection refused: transient, certainly not reached")
    func refused() async throws {
        let sim = try await Simulator.start(config: SimulatorConfig())
        let base = sim.baseURL
        await sim.shutdown()
        let api = try HTTPWebinarAPI(baseURL: base, apiKey: testKey, connectTimeout: .seconds(2))
        let failure = await api.register(lead("a@example.com")).failure
        try await api.shutdown()
        #expect(failure == .transient(reason: "connection refused", mayHaveReachedVendor: false))
    }

    @Test("a client timeout against a slow answer: timed out, may have reached the vendor")
    func timeout() async throws {
        let config = SimulatorConfig(faults: SimFaults(slowMs: 600), rateLimit: 1000)
        try await withClient(config, requestTimeout: .milliseconds(150)) { sim, api in
            await sim.injectFaults([.slow])
            let failure = await api.register(lead("a@example.com")).failure
            guard case .timedOut(let reason) = failure else {
                Issue.record("expected timedOut, got \(String(describing: failure))")
                return
            }
            #expect(failure?.mayHaveActed == true)
            #expect(reason.contains("timeout") || reason.contains("deadline"))
        }
    }

    @Test("a body over the cap is transient 'response too large'")
    func bodyCap() async throws {
        let config = SimulatorConfig(faults: SimFaults(oversizedBodyBytes: 3 * 1024 * 1024), rateLimit: 1000)
        try await withClient(config, maxResponseBodyBytes: 1024 * 1024) { sim, api in
            await sim.injectFaults([.oversizedBody])
            let failure = await api.register(lead("a@example.com")).failure
            let reason = try #require(reachedTrouble(failure), "expected transient, got \(String(describing: failure))")
            #expect(reason.hasPrefix("response too large"))
            // The connection is usable again afterwards.
            #expect(await api.register(lead("b@example.com")).value != nil)
        }
        // Under the cap, a padded answer is fine.
        let small = SimulatorConfig(faults: SimFaults(oversizedBodyBytes: 100_000), rateLimit: 1000)
        try await withClient(small) { sim, api in
            await sim.injectFaults([.oversizedBody])
            #expect(await api.register(lead("a@example.com")).value != nil)
        }
    }

    @Test("seeded random faults: every outcome is classified, never a crash")
    func randomFaults() async throws {
        let faults = SimFaults(
            latencyMs: 0...3,
            serverErrorRate: 0.1,
            resetBeforeStoreRate: 0.1,
            resetAfterStoreRate: 0.1,
            garbageBodyRate: 0.1,
            statusErrorRate: 0.1
        )
        try await withClient(SimulatorConfig(seed: 5, faults: faults, rateLimit: 1000)) { sim, api in
            var successes = 0
            var transient = 0
            var rejected = 0
            for index in 0..<40 {
                switch await api.register(lead("r\(index)@example.com")) {
                case .success: successes += 1
                case .failure(.transient): transient += 1
                case .failure(.busy(200, _)): rejected += 1
                case .failure(let other): Issue.record("unexpected \(other)")
                }
            }
            let stats = await sim.stats()
            let injected = stats.faultsInjected
            #expect(successes == 40 - injected.values.reduce(0, +))
            #expect(rejected == injected["statusError", default: 0])
            #expect(transient == injected.values.reduce(0, +) - rejected)
        }
    }
}

@Suite("Client: secrets")
struct SecretTests {
    @Test("the key never appears in descriptions, mirrors, or failures")
    func keyNeverShown() async throws {
        let api = try HTTPWebinarAPI(baseURL: "http://127.0.0.1:9", apiKey: testKey)
        #expect(!api.description.contains(testKey))
        #expect(!api.debugDescription.contains(testKey))
        #expect(!String(reflecting: api).contains(testKey))
        var dumped = ""
        dump(api, to: &dumped)
        #expect(!dumped.contains(testKey))
        #expect(!"\(api)".contains(testKey))
        let failure = await api.webinars(platform: .webinarjam).failure
        #expect(failure != nil)
        #expect(!String(describing: failure).contains(testKey))
        #expect(!String(reflecting: failure).contains(testKey))
        try await api.shutdown()
    }

    @Test("failures against the simulator do not contain the key")
    func failuresAgainstSimulator() async throws {
        try await withClient(SimulatorConfig(keyPolicy: .only(["other-key-1234"]))) { _, api in
            let failure = await api.register(lead("a@example.com")).failure
            #expect(failure == .unauthorized(message: "You must specify a valid API key"))
            #expect(!String(describing: failure).contains(testKey))
        }
    }

    @Test("a key echoed by the API is redacted from messages")
    func echoedKey() {
        let body = #"{"status":"error","message":"Key secret-key-ABCDEF-0123456789 is suspended"}"#
        let result = AnswerParser.register(status: 403, body: Array(body.utf8), secret: testKey)
        #expect(result.failure == .unauthorized(message: "Key [redacted] is suspended"))
        let garbage = "<html>api_key=\(FormEncoding.encode(testKey))</html>"
        let transient = AnswerParser.register(status: 502, body: Array(garbage.utf8), secret: testKey)
        #expect(!String(describing: transient).contains(testKey))
        #expect(String(describing: transient).contains("[redacted]"))
    }
}
