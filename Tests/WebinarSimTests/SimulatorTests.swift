import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Pacing
import PacingTesting
import Testing

@testable import WebinarSim

@Suite("Simulator: rate limit")
struct RateLimitTests {
    @Test("21 calls inside one second: exactly one 429, and it does not count toward the window")
    func twentyOneCalls() async throws {
        let clock = ManualClock()
        try await withSimulator(SimulatorConfig(clocks: .manual(clock))) { sim, client in
            var statuses: [Int] = []
            for index in 0..<21 {
                if index == 10 { clock.advance(by: .milliseconds(500)) }
                statuses.append(try await client.post("/webinarjam/webinars").status)
            }
            #expect(statuses.filter { $0 == 429 }.count == 1)
            #expect(statuses.last == 429)
            #expect(statuses.prefix(20).allSatisfy { $0 == 200 })

            // 1 s after the first ten: they leave the window, the rejected call never entered it.
            clock.advance(by: .milliseconds(500))
            let next = try await client.post("/everwebinar/webinars")
            #expect(next.status == 200)

            let stats = await sim.stats()
            #expect(stats.rateLimited == 1)
            #expect(stats.maxAcceptedCallsInWindow == 20)
            #expect(stats.maxCallsInWindow == 21)
            #expect(stats.totalCalls == 22)
        }
    }

    @Test("429 body is plain 'Too many requests' or the JSON envelope")
    func rateLimitBodies() async throws {
        let clock = ManualClock()
        try await withSimulator(SimulatorConfig(rateLimit: 1, clocks: .manual(clock))) { _, client in
            _ = try await client.post("/webinarjam/webinars")
            let limited = try await client.post("/webinarjam/webinars")
            #expect(limited.status == 429)
            #expect(limited.body == "Too many requests")
        }
        try await withSimulator(SimulatorConfig(rateLimit: 1, jsonRateLimitBody: true, clocks: .manual(clock))) {
            _,
            client in
            _ = try await client.post("/webinarjam/webinars")
            let limited = try await client.post("/webinarjam/webinars")
            #expect(limited.status == 429)
            #expect(limited.body == #"{"status":"error","message":"Too many requests"}"#)
        }
    }

    @Test("the limit is per key; key errors are not rate limited")
    func perKey() async throws {
        let clock = ManualClock()
        try await withSimulator(SimulatorConfig(rateLimit: 2, clocks: .manual(clock))) { sim, client in
            let calls = [
                ("key-aaaaaaaa", 200), ("key-aaaaaaaa", 200), ("key-aaaaaaaa", 429), ("key-bbbbbbbb", 200),
                ("short", 401), ("short", 401), ("short", 401),
            ]
            for (i, (key, status)) in calls.enumerated() {
                let answer = try await client.post("/webinarjam/webinars", key: key)
                #expect(answer.status == status, "call \(i + 1), key \(key)")
            }
            let stats = await sim.stats()
            #expect(stats.unauthorized == 3)
            #expect(stats.rateLimited == 1)
            #expect(stats.maxCallsInWindow == 7)
            #expect(stats.maxAcceptedCallsInWindow == 3)
        }
    }

    @Test("sliding window: a start exactly one window old has left it")
    func windowBoundary() {
        var window = SlidingWindow(window: .seconds(1))
        for (ms, expected) in [(0, true), (400, true), (999, false), (1000, true), (1399, false), (1400, true)] {
            let admitted = window.admit(at: .milliseconds(ms), limit: 2)
            #expect(admitted == expected, "at \(ms) ms")
        }
        #expect(window.maxInWindow == 2)

        var all = SlidingWindow(window: .seconds(1))
        for ms in [0, 100, 200, 1150, 1160, 1170, 1180, 2300] {
            all.record(at: .milliseconds(ms))
        }
        #expect(all.maxInWindow == 5)  // (180, 1180] holds 200, 1150, 1160, 1170, 1180
    }

    @Test("max in any window is exact across many starts")
    func windowMaxExact() {
        var window = SlidingWindow(window: .seconds(1))
        // 5 starts in (0.5, 1.5], never 6 in any window.
        let times = [0, 600, 700, 800, 900, 1000, 1650, 2600]
        for ms in times { window.record(at: .milliseconds(ms)) }
        var expected = 0
        for (index, end) in times.enumerated() {
            expected = max(expected, times[...index].filter { $0 > end - 1000 }.count)
        }
        #expect(window.maxInWindow == expected)
        #expect(window.maxInWindow == 5)
    }
}

@Suite("Simulator: requests and envelopes")
struct EnvelopeTests {
    @Test("GET and PUT on an API path answer 405 with Allow: POST")
    func methodNotAllowed() async throws {
        try await withSimulator { sim, client in
            let get = try await client.send("/webinarjam/webinars", method: .GET)
            #expect(get.status == 405)
            #expect(get.header("Allow") == "POST")
            let put = try await client.send("/everwebinar/register", method: .PUT, body: "a=b")
            #expect(put.status == 405)
            let stats = await sim.stats()
            #expect(stats.methodNotAllowed == 2)
            #expect(stats.totalCalls == 0)
        }
    }

    @Test("missing key: 400 with errors.api_key as an array; bad key: 401 with a string")
    func keyErrors() async throws {
        try await withSimulator { _, client in
            let missing = try await client.post("/webinarjam/webinars", key: nil)
            #expect(missing.status == 400)
            #expect(missing.body == #"{"status":"error","errors":{"api_key":["The api key field is required."]}}"#)
            let empty = try await client.post("/webinarjam/webinars", key: "")
            #expect(empty.status == 400)
            let bad = try await client.post("/everwebinar/webinars", key: "bad")
            #expect(bad.status == 401)
            #expect(bad.body == #"{"status":"error","errors":{"api_key":"You must specify a valid API key"}}"#)
        }
        try await withSimulator(SimulatorConfig(keyPolicy: .only(["the-one-key"]))) { _, client in
            let theKey = try await client.post("/webinarjam/webinars", key: "the-one-key")
            #expect(theKey.status == 200)
            let another = try await client.post("/webinarjam/webinars", key: "another-long-key")
            #expect(another.status == 401)
        }
    }

    @Test("unknown platform or method: 404")
    func unknownPaths() async throws {
        try await withSimulator { sim, client in
            for path in ["/gotowebinar/webinars", "/webinarjam/unregister", "/webinarjam"] {
                let answer = try await client.post(path)
                #expect(answer.status == 404, "\(path)")
            }
            let stats = await sim.stats()
            #expect(stats.callsByMethod["unknown"] == 1)
            #expect(stats.callsByPlatform["unknown"] == 1)
        }
    }

    @Test("webinars lists schedules as strings, WebinarJam with type, EverWebinar without")
    func webinarsShape() async throws {
        try await withSimulator { _, client in
            let wj = try await client.post("/webinarjam/webinars").json()
            #expect(wj["status"] as? String == "success")
            let list = try #require(wj["webinars"] as? [[String: Any]])
            #expect(list.map { $0["webinar_id"] as? Int } == [5, 4, 3, 2, 1])
            let five = try #require(list.first)
            #expect(five["schedules"] as? [String] == ["Every day, 01:00 PM", "Every Saturday, 02:00 PM"])
            #expect(five["type"] is NSNull)
            #expect(list[3]["type"] as? String == "Single presentation")

            let ew = try await client.post("/everwebinar/webinars").json()
            let ewList = try #require(ew["webinars"] as? [[String: Any]])
            #expect(ewList.map { $0["webinar_id"] as? Int } == [7, 6])
            #expect(ewList[1]["type"] == nil)
            #expect(ewList[1]["schedules"] as? [String] == ["Instant replay", "Just in time", "Every day, 01:00 PM"])
        }
    }

    @Test("webinar lists schedule objects; a recurring schedule appears once per date")
    func webinarShape() async throws {
        try await withSimulator { _, client in
            let five = try await client.post("/webinarjam/webinar", [("webinar_id", "5")]).json()
            let webinar = try #require(five["webinar"] as? [String: Any])
            #expect(webinar["webinar_hash"] as? String == "pqrs7890")
            #expect(webinar["type"] is NSNull)
            let schedules = try #require(webinar["schedules"] as? [[String: Any]])
            #expect(schedules.map { $0["schedule"] as? Int } == [34, 46])
            #expect(schedules.map { $0["date"] as? String } == ["2024-01-05 13:00", "2024-01-06 14:00"])
            #expect(webinar["registration_url"] as? String == "https://event.webinarjam.com/register/5/pqrs7890")

            let seven = try await client.post("/everwebinar/webinar", [("webinar_id", "7")]).json()
            let sevenSchedules = try #require((seven["webinar"] as? [String: Any])?["schedules"] as? [[String: Any]])
            #expect(sevenSchedules.map { $0["schedule"] as? Int } == [71, 71, 71, 72])

            let always = try await client.post("/webinarjam/webinar", [("webinar_id", "3")]).json()
            let alwaysSchedules = try #require((always["webinar"] as? [String: Any])?["schedules"] as? [[String: Any]])
            #expect(alwaysSchedules.first?["date"] as? String == "")

            let unknown = try await client.post("/webinarjam/webinar", [("webinar_id", "6")])
            #expect(unknown.status == 400)
            #expect(unknown.body == #"{"status":"error","message":"Webinar not found"}"#)
        }
    }

    @Test("EverWebinar webinar with a GMT timezone converts the session dates")
    func webinarTimezone() async throws {
        try await withSimulator { _, client in
            let answer = try await client.post("/everwebinar/webinar", [("webinar_id", "6"), ("timezone", "GMT-5")])
                .json()
            let webinar = try #require(answer["webinar"] as? [String: Any])
            #expect(webinar["timezone"] as? String == "GMT-5")
            let dates = (webinar["schedules"] as? [[String: Any]])?.map { $0["date"] as? String }
            #expect(dates == ["2024-01-04 15:00", "2024-01-05 15:00", "2024-01-05 16:00"])
            let bad = try await client.post("/everwebinar/webinar", [("webinar_id", "6"), ("timezone", "Mars/Base")])
            #expect(bad.status == 422)
            #expect(try bad.json()["errors"] is String)
        }
    }

    @Test("JSON request bodies work like form bodies")
    func jsonBody() async throws {
        try await withSimulator { sim, client in
            let answer = try await client.postJSON(
                "/webinarjam/register",
                #"{"api_key":"test-key-0123456789","webinar_id":5,"first_name":"Jo","email":"jo@example.com","schedule":34}"#
            )
            #expect(answer.status == 200)
            let user = try answer.user()
            #expect(user["schedule"] as? Int == 34)
            #expect(await sim.registrations().first?.email == "jo@example.com")
        }
    }
}

@Suite("Simulator: register")
struct RegisterTests {
    @Test("a WebinarJam registration answers the seed's shape with unique URLs")
    func registerShape() async throws {
        try await withSimulator { sim, client in
            let answer = try await client.register(email: "ann@example.com", extra: [("phone_country_code", "+1")])
            #expect(answer.status == 200)
            let json = try answer.json()
            #expect(json["status"] as? String == "success")
            let user = try #require(json["user"] as? [String: Any])
            #expect(user["webinar_id"] as? Int == 5)
            #expect(user["webinar_hash"] as? String == "pqrs7890")
            #expect(user["user_id"] as? Int == 1_234_567)
            #expect(user["schedule"] as? Int == 34)
            #expect(user["password"] is NSNull)
            #expect(user["date"] as? String == "2024-01-05 13:00")
            #expect(user["timezone"] as? String == "America/Los_Angeles")
            #expect(user["phone_country_code"] as? String == "+1")
            #expect(user["phone"] as? String == "")
            let live = try #require(user["live_room_url"] as? String)
            let replay = try #require(user["replay_room_url"] as? String)
            let thanks = try #require(user["thank_you_url"] as? String)
            #expect(live.hasPrefix("https://event.webinarjam.com/go/live/5/"))
            #expect(replay == live.replacingOccurrences(of: "/go/live/", with: "/go/replay/"))
            let token = String(live.split(separator: "/").last!)
            #expect(thanks.hasPrefix("https://event.webinarjam.com/registration/thank-you/5/\(token)"))
            #expect(thanks.count == "https://event.webinarjam.com/registration/thank-you/5/".count + token.count + 3)

            let second = try await client.register(email: "bob@example.com").json()
            let secondLive = try #require((second["user"] as? [String: Any])?["live_room_url"] as? String)
            #expect(secondLive != live)
            let stored = await sim.registrations()
            #expect(stored.count == 2)
            #expect(stored[0].phoneCountryCode == "+1")
        }
    }

    @Test("EverWebinar: schedule is a string; date must match a session, in the given timezone")
    func everWebinarDates() async throws {
        try await withSimulator { _, client in
            /// Registers `email` into EverWebinar `webinar`, for `date` (in `timezone`) if given.
            func register(
                _ email: String,
                webinar: Int = 6,
                schedule: Int = 56,
                date: String? = nil,
                timezone: String? = nil
            ) async throws -> RawAnswer {
                var extra: [(String, String)] = []
                if let date { extra.append(("date", date)) }
                if let timezone { extra.append(("timezone", timezone)) }
                return try await client.register(
                    email: email,
                    platform: "everwebinar",
                    webinar: webinar,
                    schedule: schedule,
                    extra: extra
                )
            }
            let ok = try await register("a@example.com", date: "2024-01-05 13:00")
            #expect(ok.status == 200)
            let user = try ok.user()
            #expect(user["schedule"] as? String == "56")
            #expect(user["date"] as? String == "2024-01-05 13:00")

            let wrong = try await register("b@example.com", date: "2024-01-06 13:00")
            #expect(wrong.status == 422)
            #expect((try wrong.json()["message"] as? String)?.contains("does not match any session") == true)

            let shifted = try await register("c@example.com", date: "2024-01-05 16:00", timezone: "GMT-5")
            #expect(shifted.status == 200)
            #expect((try shifted.json()["user"] as? [String: Any])?["timezone"] as? String == "GMT-5")

            let unshifted = try await register("d@example.com", date: "2024-01-05 16:00")
            #expect(unshifted.status == 422)

            let recurring = try await register("e@example.com", webinar: 7, schedule: 71, date: "2024-01-06 19:00")
            #expect(recurring.status == 200)
            let recurringUser = try recurring.user()
            #expect(recurringUser["date"] as? String == "2024-01-06 19:00")
            #expect((recurringUser["password"] as? String)?.count == 8)

            let noDate = try await register("f@example.com", webinar: 6, schedule: 55)
            #expect(noDate.status == 200)
            #expect((try noDate.json()["user"] as? [String: Any])?["date"] as? String == "2024-01-05 12:00")
        }
    }

    @Test("the single presentation requires last name, phone and phone country code")
    func requiredFields() async throws {
        try await withSimulator { sim, client in
            let missing = try await client.post(
                "/webinarjam/register",
                [("webinar_id", "2"), ("first_name", "Ann"), ("email", "ann@example.com"), ("schedule", "21")]
            )
            #expect(missing.status == 422)
            let errors = try #require(try missing.json()["errors"] as? [String: [String]])
            #expect(errors["last_name"] == ["The last name field is required."])
            #expect(errors["phone"] == ["The phone field is required."])
            #expect(errors["phone_country_code"] == ["The phone country code field is required."])

            let badPhone = try await client.post(
                "/webinarjam/register",
                [
                    ("webinar_id", "2"), ("first_name", "Ann"), ("last_name", "Lee"), ("email", "ann@example.com"),
                    ("schedule", "21"), ("phone_country_code", "1"), ("phone", "555-1234"),
                ]
            )
            #expect(badPhone.status == 422)
            let formatErrors = try #require(try badPhone.json()["errors"] as? [String: String])
            #expect(formatErrors["phone"] == "The phone may only contain numbers.")
            #expect(formatErrors["phone_country_code"]?.contains("must start with +") == true)

            let ok = try await client.post(
                "/webinarjam/register",
                [
                    ("webinar_id", "2"), ("first_name", "Ann"), ("last_name", "Lee"), ("email", "ann@example.com"),
                    ("schedule", "21"), ("phone_country_code", "+44"), ("phone", "5551234"),
                ]
            )
            #expect(ok.status == 200)
            #expect(await sim.registrations().count == 1)
        }
    }

    @Test("validation shapes: missing fields, bad email, unknown webinar and schedule")
    func validationShapes() async throws {
        try await withSimulator { sim, client in
            let missing = try await client.post("/webinarjam/register", [("webinar_id", "5")])
            #expect(missing.status == 422)
            let errors = try #require(try missing.json()["errors"] as? [String: [String]])
            #expect(Set(errors.keys) == ["first_name", "email", "schedule"])

            let badEmail = try await client.register(email: "not-an-email")
            #expect(badEmail.status == 422)
            #expect(
                (try badEmail.json()["errors"] as? [String: String])?["email"]
                    == "The email must be a valid email address."
            )

            let unknownWebinar = try await client.register(email: "a@example.com", webinar: 99)
            #expect(unknownWebinar.status == 400)
            #expect(try unknownWebinar.json()["message"] as? String == "Webinar not found")

            let unknownSchedule = try await client.register(email: "a@example.com", schedule: 99)
            #expect(unknownSchedule.status == 400)
            #expect(try unknownSchedule.json()["error"] as? String == "Invalid schedule 99 for webinar 5")

            let wrongPlatform = try await client.register(email: "a@example.com", platform: "everwebinar")
            #expect(wrongPlatform.status == 400)

            #expect(await sim.registrations().isEmpty)
            #expect(await sim.stats().rejected == 5)
        }
    }

    @Test("duplicates, sameUser: same user and URLs, one stored registration, two calls counted")
    func duplicateSameUser() async throws {
        try await withSimulator(SimulatorConfig(duplicatePolicy: .sameUser)) { sim, client in
            let first = try await client.register(email: "Ann@Example.com").user()
            let second = try await client.register(email: "ann@example.COM").user()
            #expect(first["user_id"] as? Int == second["user_id"] as? Int)
            #expect(first["live_room_url"] as? String == second["live_room_url"] as? String)
            // Another schedule is another registration, not a duplicate.
            _ = try await client.register(email: "ann@example.com", schedule: 46)
            let stats = await sim.stats()
            #expect(stats.totalRegistrations == 2)
            #expect(stats.successfulRegisterCalls == 3)
            #expect(stats.registerCallsByPerson == ["ann@example.com": 3])
            #expect(stats.duplicates == 1)
        }
    }

    @Test("duplicates, newUser: new user id and URLs")
    func duplicateNewUser() async throws {
        try await withSimulator(SimulatorConfig(duplicatePolicy: .newUser)) { sim, client in
            let first = try await client.register(email: "ann@example.com").user()
            let second = try await client.register(email: "ANN@example.com").user()
            #expect(first["user_id"] as? Int != second["user_id"] as? Int)
            #expect(first["live_room_url"] as? String != second["live_room_url"] as? String)
            #expect(first["thank_you_url"] as? String != second["thank_you_url"] as? String)
            let stats = await sim.stats()
            #expect(stats.totalRegistrations == 2)
            #expect(stats.duplicates == 1)
        }
    }

    @Test("duplicates, error: 422 already registered, nothing stored")
    func duplicateError() async throws {
        try await withSimulator(SimulatorConfig(duplicatePolicy: .error)) { sim, client in
            #expect(try await client.register(email: "ann@example.com").status == 200)
            let again = try await client.register(email: "ann@example.com")
            #expect(again.status == 422)
            #expect(try again.json()["message"] as? String == "This email is already registered for this webinar.")
            let stats = await sim.stats()
            #expect(stats.totalRegistrations == 1)
            #expect(stats.successfulRegisterCalls == 1)
            #expect(stats.duplicates == 0)
        }
    }

    @Test("the same seed gives the same URLs; another seed other URLs")
    func seededTokens() async throws {
        func firstLive(seed: UInt64) async throws -> String {
            var live = ""
            try await withSimulator(SimulatorConfig(seed: seed)) { _, client in
                let user = try await client.register(email: "ann@example.com").json()["user"] as? [String: Any]
                live = user?["live_room_url"] as? String ?? ""
            }
            return live
        }
        let a = try await firstLive(seed: 7)
        let b = try await firstLive(seed: 7)
        let c = try await firstLive(seed: 8)
        #expect(a == b)
        #expect(a != c)
    }
}

@Suite("Simulator: registrants and stats")
struct RegistrantsAndStatsTests {
    @Test("registrants: pagination, case-insensitive substring search, schedule filter, links")
    func registrants() async throws {
        try await withSimulator(SimulatorConfig(rateLimit: 1000, registrantsPerPage: 10)) { _, client in
            for index in 1...23 {
                _ = try await client.register(email: "lead\(index)@Example.com", schedule: index <= 20 ? 34 : 46)
            }
            let page1 = try await client.post("/webinarjam/registrants", [("webinar_id", "5")]).json()
            let body1 = try #require(page1["registrants"] as? [String: Any])
            #expect(body1["current_page"] as? Int == 1)
            #expect(body1["last_page"] as? Int == 3)
            #expect(body1["total"] as? Int == 23)
            #expect((body1["data"] as? [Any])?.count == 10)

            let page3 = try await client.post("/webinarjam/registrants", [("webinar_id", "5"), ("page", "3")]).json()
            let rows3 = try #require((page3["registrants"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(
                rows3.map { $0["email"] as? String } == [
                    "lead21@Example.com", "lead22@Example.com", "lead23@Example.com",
                ]
            )
            let links = try #require(rows3.first?["links"] as? [String: Any])
            #expect((links["live_room"] as? String)?.hasPrefix("https://event.webinarjam.com/go/live/5/") == true)
            #expect(links["replay_room"] is String)
            #expect(links["unsubscribe"] is String)
            #expect(rows3.first?["schedule_id"] as? Int == 46)

            let search = try await client.post("/webinarjam/registrants", [("webinar_id", "5"), ("search", "LEAD2")])
                .json()
            let found = try #require((search["registrants"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(found.count == 5)  // lead2, lead20, lead21, lead22, lead23

            let exact = try await client.post(
                "/webinarjam/registrants",
                [("webinar_id", "5"), ("search", "lead7@example.com")]
            ).json()
            let exactRows = try #require((exact["registrants"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(exactRows.count == 1)
            #expect(exactRows.first?["lead_id"] as? Int == 1_234_567 + 6)

            let bySchedule = try await client.post(
                "/webinarjam/registrants",
                [("webinar_id", "5"), ("schedule_id", "46")]
            ).json()
            #expect(((bySchedule["registrants"] as? [String: Any])?["total"] as? Int) == 3)

            let other = try await client.post("/webinarjam/registrants", [("webinar_id", "2")]).json()
            let otherBody = try #require(other["registrants"] as? [String: Any])
            #expect((otherBody["data"] as? [Any])?.isEmpty == true)
            #expect(otherBody["last_page"] as? Int == 1)
        }
    }

    @Test("stats: calls per method and platform, faults, per person, admin endpoints")
    func stats() async throws {
        try await withSimulator { sim, client in
            _ = try await client.post("/webinarjam/webinars")
            _ = try await client.post("/everwebinar/webinars")
            _ = try await client.post("/everwebinar/webinar", [("webinar_id", "6")])
            _ = try await client.register(email: "a@example.com")
            _ = try await client.register(email: "b@example.com")
            _ = try await client.register(email: "a@example.com", schedule: 46)
            _ = try await client.post("/webinarjam/registrants", [("webinar_id", "5")])

            let stats = await sim.stats()
            #expect(stats.totalCalls == 7)
            #expect(stats.callsByMethod == ["webinars": 2, "webinar": 1, "register": 3, "registrants": 1])
            #expect(stats.callsByPlatform == ["webinarjam": 5, "everwebinar": 2])
            #expect(stats.callsByPlatformMethod["webinarjam/register"] == 3)
            #expect(stats.registerCallsByPerson == ["a@example.com": 2, "b@example.com": 1])
            #expect(stats.duplicates == 0)
            #expect(stats.totalRegistrations == 3)
            #expect(stats.successfulRegisterCalls == 3)

            let served = try await client.send("/__sim/stats", method: .GET)
            #expect(served.status == 200)
            let decoded = try JSONDecoder().decode(SimulatorStats.self, from: Data(served.body.utf8))
            #expect(decoded == stats)
            #expect(served.body.contains("\"max_calls_in_window\""))

            let dump = try await client.send("/__sim/registrations", method: .GET).json()
            let rows = try #require(dump["registrations"] as? [[String: Any]])
            #expect(rows.count == 3)
            #expect(rows[0]["email"] as? String == "a@example.com")
            #expect(rows[0]["user_id"] as? Int == 1_234_567)
            #expect((rows[0]["live_room_url"] as? String)?.hasPrefix("https://event.webinarjam.com/go/live/5/") == true)

            let reset = try await client.send("/__sim/reset", method: .POST)
            #expect(reset.status == 200)
            #expect(await sim.stats().totalCalls == 0)
            #expect(await sim.registrations().isEmpty)
        }
    }
}

@Suite("Simulator: faults")
struct FaultTests {
    @Test(
        "resets: the client sees the connection closed; stored only when reset after storing; the next call is served"
    )
    func resets() async throws {
        try await withSimulator { sim, client in
            await sim.injectFaults([.resetBeforeStore, .resetAfterStore])
            for email in ["ann@example.com", "bob@example.com"] {
                await #expect(throws: HTTPClientError.remoteConnectionClosed) {
                    _ = try await client.register(email: email)
                }
            }
            #expect(await sim.registrations().map(\.email) == ["bob@example.com"])
            let stats = await sim.stats()
            #expect(stats.faultsInjected == ["resetBeforeStore": 1, "resetAfterStore": 1])
            #expect(stats.successfulRegisterCalls == 1)
            let next = try await client.register(email: "cy@example.com")
            #expect(next.status == 200)
        }
    }

    @Test("5xx, garbage, 200+status error, oversized bodies")
    func answerFaults() async throws {
        try await withSimulator(SimulatorConfig(faults: SimFaults(oversizedBodyBytes: 200_000))) { sim, client in
            await sim.injectFaults([.serverError, .garbageBody, .statusError, .oversizedBody])
            let server = try await client.register(email: "a@example.com")
            #expect((500...599).contains(server.status))
            let garbage = try await client.register(email: "b@example.com")
            #expect(garbage.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: Data(garbage.body.utf8))) == nil)
            let statusError = try await client.register(email: "c@example.com")
            #expect(statusError.status == 200)
            #expect(try statusError.json()["status"] as? String == "error")
            let oversized = try await client.register(email: "d@example.com")
            #expect(oversized.status == 200)
            #expect(oversized.body.utf8.count == 200_000)
            #expect(try oversized.json()["user"] != nil)
            #expect(await sim.registrations().map(\.email) == ["b@example.com", "d@example.com"])
            let stats = await sim.stats()
            #expect(stats.faultsInjected == ["serverError": 1, "garbageBody": 1, "statusError": 1, "oversizedBody": 1])
        }
    }

    @Test("faults apply to register only unless configured; queued through the admin endpoint")
    func faultMethods() async throws {
        try await withSimulator { sim, client in
            let queued = try await client.send(
                "/__sim/faults",
                method: .POST,
                body: #"{"faults":["statusError"]}"#,
                contentType: "application/json"
            )
            #expect(queued.status == 200)
            #expect(try await client.post("/webinarjam/webinars").status == 200)
            let register = try await client.register(email: "a@example.com")
            #expect(try register.json()["status"] as? String == "error")
            #expect(await sim.registrations().isEmpty)
        }
        try await withSimulator(SimulatorConfig(faults: SimFaults(methods: [.webinars]))) { sim, client in
            await sim.injectFaults([.serverError])
            let register = try await client.register(email: "a@example.com")
            #expect(register.status == 200)
            let webinars = try await client.post("/webinarjam/webinars")
            #expect(webinars.status >= 500)
        }
    }

    @Test("seeded fault rates are reproducible and roughly as configured")
    func seededRates() async throws {
        func run(seed: UInt64) async throws -> [Int] {
            var statuses: [Int] = []
            let faults = SimFaults(serverErrorRate: 0.3, statusErrorRate: 0.2)
            try await withSimulator(SimulatorConfig(seed: seed, faults: faults, rateLimit: 1000)) { sim, client in
                for index in 0..<60 {
                    let answer = try await client.register(email: "p\(index)@example.com")
                    statuses.append(answer.status >= 500 ? 500 : (answer.body.contains("\"error\"") ? 1 : 200))
                }
                let stats = await sim.stats()
                #expect(stats.faultsInjected["serverError", default: 0] == statuses.filter { $0 == 500 }.count)
            }
            return statuses
        }
        let first = try await run(seed: 99)
        let second = try await run(seed: 99)
        #expect(first == second)
        let errors = first.filter { $0 == 500 }.count
        #expect((8...30).contains(errors))
        #expect(first.contains(200))
    }

    @Test("latency and slow answers delay the answer (tiny values)")
    func latency() async throws {
        let faults = SimFaults(latencyMs: 20...30, slowMs: 50)
        try await withSimulator(SimulatorConfig(faults: faults)) { sim, client in
            let clock = ContinuousClock()
            let plain = try await clock.measure { _ = try await client.post("/webinarjam/webinars") }
            #expect(plain >= .milliseconds(20))
            await sim.injectFaults([.slow])
            let slow = try await clock.measure { _ = try await client.register(email: "a@example.com") }
            #expect(slow >= .milliseconds(70))
            #expect(await sim.registrations().count == 1)
        }
    }
}

@Suite("Simulator: configuration")
struct ConfigurationTests {
    @Test("account JSON: object and array forms, defaults")
    func accountJSON() throws {
        let object = """
            {"webinars":[{"platform":"everwebinar","webinar_id":9,"webinar_hash":"tuvw1234",
              "required_fields":["phone"],
              "schedules":[{"schedule":90,"comment":"Every day, 01:00 PM","dates":["2024-02-01 13:00"]}]}]}
            """
        let account = try SimAccount.decode(json: Data(object.utf8))
        #expect(account.webinars.count == 1)
        #expect(account.webinars[0].webinarHash == "tuvw1234")
        #expect(account.webinars[0].name == "Demo9")
        #expect(account.webinars[0].timezone == "America/Los_Angeles")
        #expect(account.webinars[0].requiredFields == ["phone"])

        let array = #"[{"platform":"webinarjam","webinar_id":1,"schedules":[{"schedule":10,"comment":"Right now"}]}]"#
        let fromArray = try SimAccount.decode(json: Data(array.utf8))
        #expect(fromArray.webinars[0].schedules[0].dates.isEmpty)
    }

    @Test("account JSON: clear errors")
    func accountErrors() {
        func message(_ json: String) -> String {
            do {
                _ = try SimAccount.decode(json: Data(json.utf8), source: "w.json")
                return ""
            } catch {
                return error.description
            }
        }
        #expect(message("nope").hasPrefix("w.json: not a valid webinars file"))
        #expect(
            message(#"[{"platform":"webinarjam","webinar_id":1,"schedules":[]}]"#)
                == "w.json: webinar webinarjam/1 has no schedules"
        )
        #expect(
            message(#"[{"platform":"webinarjam","webinar_id":1,"schedules":[{"schedule":1,"dates":["tomorrow"]}]}]"#)
                .contains("expected yyyy-MM-dd HH:mm")
        )
        #expect(
            message(
                #"[{"platform":"webinarjam","webinar_id":1,"required_fields":["age"],"schedules":[{"schedule":1}]}]"#
            )
            .contains("unknown field 'age'")
        )
        #expect(
            message(#"[{"platform":"zoom","webinar_id":1,"schedules":[{"schedule":1}]}]"#).contains(
                "not a valid webinars file"
            )
        )
    }

    @Test("latency option parsing")
    func latencyParsing() {
        #expect(SimFaults.parseLatency("150") == 150...150)
        #expect(SimFaults.parseLatency("50-200") == 50...200)
        #expect(SimFaults.parseLatency("50...200") == 50...200)
        #expect(SimFaults.parseLatency("200-50") == nil)
        #expect(SimFaults.parseLatency("fast") == nil)
    }

    @Test("the default account round-trips through its JSON format")
    func defaultRoundTrip() throws {
        let data = try JSONEncoder().encode(SimAccount.default)
        #expect(try SimAccount.decode(json: data) == SimAccount.default)
    }

    @Test("invalid configurations are refused before listening")
    func invalidConfig() async {
        var config = SimulatorConfig()
        config.faults.serverErrorRate = 0.8
        config.faults.resetAfterStoreRate = 0.5
        #expect(config.validationError() == "fault rates add up to 1.3, more than 1")
        await #expect(throws: SimulatorError.self) { _ = try await Simulator.start(config: config) }
        #expect(SimulatorConfig(rateLimit: 0).validationError() != nil)
        #expect(SimulatorConfig().validationError() == nil)
    }

    @Test("a foreground run reports its port and stops on cancellation")
    func foreground() async throws {
        let (stream, continuation) = AsyncStream<RunningSimulator>.makeStream()
        let task = Task {
            try await Simulator.run(config: SimulatorConfig()) { running in continuation.yield(running) }
        }
        var iterator = stream.makeAsyncIterator()
        let running = try #require(await iterator.next())
        #expect(running.port > 0)
        let client = SimClient(base: running.baseURL)
        #expect(try await client.post("/webinarjam/webinars").status == 200)
        #expect(await running.stats().totalCalls == 1)
        try await client.http.shutdown()
        task.cancel()
        try await task.value
    }

    @Test("a busy port is a clear start error")
    func busyPort() async throws {
        let first = try await Simulator.start(config: SimulatorConfig())
        await #expect(throws: SimulatorError.self) {
            _ = try await Simulator.start(config: SimulatorConfig(port: first.port))
        }
        await first.shutdown()
    }
}
