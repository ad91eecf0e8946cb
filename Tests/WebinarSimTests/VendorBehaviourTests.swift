import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Pacing
import PacingTesting
import Testing

@testable import WebinarSim

/// Register calls into webinar 5 / schedule 34 (any method's fields are accepted by the others).
private let webinarFields = [("webinar_id", "5")]

@Suite("Simulator: vendor trouble in every envelope")
struct VendorTroubleTests {
    @Test("fault methods: 'all' applies faults to every method; the option parser")
    func faultMethodsAll() async throws {
        #expect(SimFaults.parseMethods("all") == Set(SimMethod.allCases))
        #expect(SimFaults.parseMethods("register, Registrants") == [.register, .registrants])
        #expect(SimFaults.parseMethods("webinar,webinars") == [.webinar, .webinars])
        #expect(SimFaults.parseMethods("register,unregister") == nil)
        #expect(SimFaults.parseMethods("") == nil)

        let faults = SimFaults(statusErrorRate: 1, methods: SimFaults.parseMethods("all")!)
        try await withSimulator(SimulatorConfig(faults: faults)) { sim, client in
            let answers = [
                try await client.post("/webinarjam/webinars"),
                try await client.post("/webinarjam/webinar", webinarFields),
                try await client.post("/webinarjam/registrants", webinarFields),
                try await client.register(email: "a@example.com"),
            ]
            for answer in answers {
                #expect(answer.status == 200)
                #expect(
                    answer.body
                        == #"{"status":"error","message":"The registration could not be completed at this time"}"#
                )
            }
            #expect(await sim.registrations().isEmpty)
            #expect(await sim.stats().faultsInjected == ["statusError": 4])
        }
        // Only the listed methods.
        let some = SimFaults(statusErrorRate: 1, methods: SimFaults.parseMethods("registrants")!)
        try await withSimulator(SimulatorConfig(faults: some)) { sim, client in
            let registrants = try await client.post("/webinarjam/registrants", webinarFields)
            #expect(try registrants.json()["status"] as? String == "error")
            let webinar = try await client.post("/webinarjam/webinar", webinarFields)
            #expect(try webinar.json()["status"] as? String == "success")
            let register = try await client.register(email: "a@example.com")
            #expect(try register.json()["status"] as? String == "success")
            #expect(await sim.stats().faultsInjected == ["statusError": 1])
        }
    }

    @Test("vendor trouble: HTTP 200, status error, each realistic message or none, nothing stored, reproducible")
    func vendorTrouble() async throws {
        func run(seed: UInt64) async throws -> [String] {
            var bodies: [String] = []
            let config = SimulatorConfig(seed: seed, faults: SimFaults(vendorTroubleRate: 1), rateLimit: 1000)
            try await withSimulator(config) { sim, client in
                for index in 0..<40 {
                    let answer = try await client.register(email: "p\(index)@example.com")
                    #expect(answer.status == 200)
                    #expect(answer.header("Content-Type") == "application/json")
                    let json = try answer.json()
                    #expect(json["status"] as? String == "error")
                    #expect(Set(json.keys).isSubset(of: ["status", "message"]))
                    if let message = json["message"] as? String {
                        #expect(SimFaults.troubleMessages.contains(message))
                    }
                    bodies.append(answer.body)
                }
                #expect(await sim.registrations().isEmpty)
                let stats = await sim.stats()
                #expect(stats.faultsInjected == ["vendorTrouble": 40])
                #expect(stats.successfulRegisterCalls == 0)
            }
            return bodies
        }
        let first = try await run(seed: 3)
        #expect(try await run(seed: 3) == first)
        #expect(
            Set(first) == [
                #"{"status":"error","message":"Service temporarily unavailable, please try again later"}"#,
                #"{"status":"error","message":"Database error"}"#,
                #"{"status":"error","message":"Internal error, try again later"}"#,
                #"{"status":"error"}"#,
            ]
        )
    }

    @Test("proxy pages: HTML with each status; 504 and 524 store the registration, the others do not")
    func proxyPages() async throws {
        let clock = ManualClock()
        let config = SimulatorConfig(faults: SimFaults(proxyPageRate: 1), rateLimit: 1000, clocks: .manual(clock))
        try await withSimulator(config) { sim, client in
            var statusByEmail: [String: Int] = [:]
            for index in 0..<80 {
                let email = "p\(index)@example.com"
                let answer = try await client.register(email: email)
                #expect(SimFaults.allProxyPageStatuses.contains(answer.status))
                #expect(answer.header("Content-Type")?.hasPrefix("text/html") == true)
                #expect(answer.body.contains("<html"))
                #expect((try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) == nil)
                if answer.status >= 520 {
                    #expect(answer.body.contains("Error code \(answer.status)"))
                    #expect(answer.body.contains("Cloudflare"))
                } else {
                    #expect(answer.body.contains("<h1>\(answer.status) "))
                    #expect(answer.body.contains("nginx"))
                }
                statusByEmail[email] = answer.status
            }
            #expect(Set(statusByEmail.values) == Set(SimFaults.allProxyPageStatuses))
            let storing = statusByEmail.filter { [504, 524].contains($0.value) }.keys
            #expect(Set(await sim.registrations().map(\.email)) == Set(storing))
            let stats = await sim.stats()
            #expect(stats.faultsInjected == ["proxyPage": 80])
            #expect(stats.proxyPagesByStatus.values.reduce(0, +) == 80)
            #expect(stats.proxyPagesByStatus["504"] == statusByEmail.values.filter { $0 == 504 }.count)
            #expect(stats.successfulRegisterCalls == storing.count)
            #expect(stats.maxCallsInWindow == 80)  // faulted calls count in the window like any other
        }
    }

    @Test("proxy pages narrowed to 504: every call stores and answers the page; a repeat is a duplicate")
    func proxyPage504() async throws {
        let faults = SimFaults(proxyPageRate: 1, proxyPageStatuses: [504])
        try await withSimulator(SimulatorConfig(faults: faults)) { sim, client in
            let answer = try await client.register(email: "ann@example.com")
            #expect(answer.status == 504)
            #expect(answer.body.contains("504 Gateway Time-out"))
            #expect(await sim.registrations().map(\.email) == ["ann@example.com"])
            _ = try await client.register(email: "ann@example.com")
            let stats = await sim.stats()
            #expect(stats.duplicates == 1)
            #expect(stats.totalRegistrations == 1)
        }
        #expect(
            SimFaults(proxyPageStatuses: [200]).validationError() == "proxy page status must be within 400…599, got 200"
        )
        #expect(SimFaults(proxyPageRate: 0.5, proxyPageStatuses: []).validationError() != nil)
        #expect(SimFaults.parseStatuses("504, 524") == [504, 524])
        #expect(SimFaults.parseStatuses("504,x") == nil)
    }

    @Test("rate limit answers: plain, JSON 429, JSON 200, HTML 429")
    func rateLimitAnswers() async throws {
        let clock = ManualClock()
        func limited(_ answer: SimRateLimitAnswer) async throws -> RawAnswer {
            var result: RawAnswer?
            let config = SimulatorConfig(rateLimit: 1, rateLimitAnswer: answer, clocks: .manual(clock))
            try await withSimulator(config) { sim, client in
                _ = try await client.register(email: "a@example.com")
                result = try await client.register(email: "b@example.com")
                #expect(await sim.stats().rateLimited == 1)
                #expect(await sim.registrations().map(\.email) == ["a@example.com"])
            }
            return try #require(result)
        }
        let plain = try await limited(.plain)
        #expect(plain.status == 429)
        #expect(plain.body == "Too many requests")
        #expect(plain.header("Content-Type")?.hasPrefix("text/plain") == true)

        let json = try await limited(.json)
        #expect(json.status == 429)
        #expect(json.body == #"{"status":"error","message":"Too many requests"}"#)

        let json200 = try await limited(.json200)
        #expect(json200.status == 200)
        #expect(json200.body == #"{"status":"error","message":"Too many requests"}"#)

        let html = try await limited(.html)
        #expect(html.status == 429)
        #expect(html.header("Content-Type") == "text/html")
        #expect(html.body.contains("<h1>429 Too Many Requests</h1>"))

        #expect(SimRateLimitAnswer(rawValue: "json-200") == .json200)
        #expect(SimulatorConfig().rateLimitAnswer == .plain)
        #expect(SimulatorConfig(jsonRateLimitBody: true).rateLimitAnswer == .json)
        var config = SimulatorConfig(rateLimitAnswer: .html)
        #expect(!config.jsonRateLimitBody)
        config.jsonRateLimitBody = true
        #expect(config.rateLimitAnswer == .json)
    }
}

@Suite("Simulator: refusals and late webinars")
struct RefusalTests {
    @Test("refusals by message and by field: every call, any case, nothing stored; others unaffected")
    func refusals() async throws {
        let faults = SimFaults(
            refusals: ["Refused@Example.com": "Registration is closed"],
            fieldRefusals: ["bad@example.com": "phone"]
        )
        try await withSimulator(SimulatorConfig(faults: faults)) { sim, client in
            for email in ["refused@example.com", "REFUSED@example.com", "Refused@Example.com"] {
                let answer = try await client.register(email: email)
                #expect(answer.status == 200)
                #expect(answer.body == #"{"status":"error","message":"Registration is closed"}"#)
            }
            let field = try await client.register(email: "Bad@Example.com")
            #expect(field.status == 422)
            #expect(field.body == #"{"status":"error","errors":{"phone":["The phone is invalid."]}}"#)
            let again = try await client.register(email: "bad@example.com")
            #expect(again.status == 422)
            #expect(try await client.register(email: "ok@example.com").status == 200)
            #expect(await sim.registrations().map(\.email) == ["ok@example.com"])
            let stats = await sim.stats()
            #expect(stats.faultsInjected == ["refused": 3, "refusedField": 2])
            #expect(stats.successfulRegisterCalls == 1)
            #expect(stats.rejected == 2)
        }
    }

    @Test("refusal options parse EMAIL=VALUE at the first '=' after the '@'; invalid settings are refused")
    func refusalParsing() {
        let parsed = SimFaults.parseLeadOption("a=b@example.com=Closed, try=later")
        #expect(parsed?.email == "a=b@example.com")
        #expect(parsed?.value == "Closed, try=later")
        #expect(SimFaults.parseLeadOption("ann@example.com=phone")?.value == "phone")
        #expect(SimFaults.parseLeadOption("ann@example.com=") == nil)
        #expect(SimFaults.parseLeadOption("ann@example.com") == nil)
        #expect(SimFaults.parseLeadOption("closed=ann") == nil)
        let both = SimFaults(refusals: ["a@example.com": "x"], fieldRefusals: ["A@example.com": "phone"])
        #expect(both.validationError() == "a@example.com is refused both by message and by field")
        #expect(SimFaults(fieldRefusals: ["a@example.com": " "]).validationError() != nil)
    }

    @Test("webinar not found at first: the first N webinar calls per platform and id answer 400, later ones 200")
    func webinarNotFoundFirst() async throws {
        let notFound = #"{"status":"error","message":"Webinar not found"}"#
        try await withSimulator(SimulatorConfig(faults: SimFaults(webinarNotFoundFirst: 2))) { sim, client in
            var statuses: [Int] = []
            for _ in 0..<3 {
                let answer = try await client.post("/webinarjam/webinar", [("webinar_id", "5")])
                statuses.append(answer.status)
                if answer.status == 400 { #expect(answer.body == notFound) }
            }
            #expect(statuses == [400, 400, 200])
            // Another id, another platform: counted apart.
            do {
                let answer = try await client.post("/webinarjam/webinar", [("webinar_id", "2")])
                #expect(answer.body == notFound)
            }
            #expect(try await client.post("/everwebinar/webinar", [("webinar_id", "6")]).status == 400)
            // Other methods are not affected.
            do {
                let answer = try await client.register(
                    email: "a@example.com",
                    webinar: 2,
                    schedule: 21,
                    extra: [("phone_country_code", "+1"), ("phone", "5551234")]
                )
                #expect(answer.status == 200)
            }
            let stats = await sim.stats()
            #expect(stats.faultsInjected == ["webinarNotFound": 4])
            #expect(stats.rejected == 4)
            // A reset starts the count again.
            await sim.reset()
            #expect(try await client.post("/webinarjam/webinar", [("webinar_id", "5")]).status == 400)
        }
    }
}

@Suite("Simulator: slow storing and long latency")
struct SlowStoringTests {
    /// Every call slow by 6 s: the client's leaving must be seen long before the delay ends, even
    /// on a loaded CI machine (2 s was once not enough under the full suite).
    private let slowEveryCall = SimulatorConfig(faults: SimFaults(slowRate: 1, slowMs: 6_000))

    @Test("slow: stored when the delay ends although the client gave up and closed the connection")
    func slowStoresAfterClientLeft() async throws {
        let clock = ContinuousClock()
        let config = slowEveryCall
        try await withSimulator(config) { sim, client in
            let call = Task { try await client.register(email: "ann@example.com", timeout: .seconds(30)) }
            // Give up (cancel: the client closes the connection) once the simulator has the call.
            let seen = try await poll(clock, within: .seconds(10)) { await sim.stats().faultsInjected["slow"] == 1 }
            call.cancel()
            let result = await call.result
            #expect(throws: (any Error).self) { try result.get() }
            // The client is gone; the call has not been stored early...
            #expect(await sim.registrations().isEmpty)
            // ...nor lost: it is stored when its delay ends.
            let stored = try await poll(clock, within: .seconds(20)) { await !sim.registrations().isEmpty }
            #expect(stored - seen >= .milliseconds(3_000))
            #expect(await sim.registrations().map(\.email) == ["ann@example.com"])
            let stats = await sim.stats()
            #expect(stats.successfulRegisterCalls == 1)
            #expect(stats.faultsInjected == ["slow": 1])
            // The simulator keeps serving.
            await sim.setFaultsOrFail(SimFaults())
            #expect(try await client.register(email: "bob@example.com").status == 200)
        }
    }

    @Test("slow: stored when the delay ends although the client closed its socket right after sending")
    func slowStoresAfterSocketClosed() async throws {
        let clock = ContinuousClock()
        let config = slowEveryCall
        try await withSimulator(config) { sim, client in
            let request = rawFormPost(
                "/webinarjam/register",
                [
                    ("api_key", SimClient.key), ("webinar_id", "5"), ("first_name", "Ann"),
                    ("email", "ann@example.com"),
                    ("schedule", "34"),
                ]
            )
            try sendThenClose(port: sim.port, request: request)
            let seen = try await poll(clock, within: .seconds(10)) { await sim.stats().faultsInjected["slow"] == 1 }
            try await Task.sleep(for: .milliseconds(200))
            #expect(await sim.registrations().isEmpty)
            let stored = try await poll(clock, within: .seconds(20)) { await !sim.registrations().isEmpty }
            #expect(stored - seen >= .milliseconds(3_000))
            #expect(await sim.stats().successfulRegisterCalls == 1)
            #expect(try await client.post("/webinarjam/webinars").status == 200)
        }
    }

    /// Waits (polling every 10 ms) until `condition` holds; returns when it did, or throws
    /// after `limit`.
    private func poll(
        _ clock: ContinuousClock,
        within limit: Duration,
        _ condition: () async -> Bool
    ) async throws -> ContinuousClock.Instant {
        let deadline = clock.now + limit
        while clock.now < deadline {
            if await condition() { return clock.now }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw SimulatorError(description: "condition not met within \(limit)")
    }

    @Test("slow applies to the fault methods: a slow registrants call still answers")
    func slowOnOtherMethods() async throws {
        let faults = SimFaults(slowRate: 1, slowMs: 800, methods: [.registrants])
        try await withSimulator(SimulatorConfig(faults: faults)) { sim, client in
            let clock = ContinuousClock()
            let slow = try await clock.measure {
                let answer = try await client.post("/webinarjam/registrants", webinarFields)
                #expect(answer.status == 200)
            }
            #expect(slow >= .milliseconds(800))
            #expect(await sim.stats().faultsInjected["slow"] == 1)
            // The register call is not a fault method: no slow fault drawn for it. (Counted at
            // the simulator, not timed: at the suite's start the two cores run every suite at
            // once, and a plain call has taken over a second there.)
            let answer = try await client.register(email: "a@example.com")
            #expect(answer.status == 200)
            #expect(await sim.stats().faultsInjected["slow"] == 1)
        }
    }

    @Test("latency of 10,000 ms: answered, nothing in the simulator cuts it short")
    func tenSecondLatency() async throws {
        let config = SimulatorConfig(faults: SimFaults(latencyMs: 10_000...10_000))
        try await withSimulator(config) { sim, client in
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                let answer = try await client.register(email: "ann@example.com", timeout: .seconds(30))
                #expect(answer.status == 200)
                #expect(try answer.json()["user"] != nil)
            }
            #expect(elapsed >= .milliseconds(10_000))
            #expect(await sim.registrations().count == 1)
        }
    }
}

@Suite("Simulator: registrants quirks and EverWebinar sessions")
struct RegistrantsQuirkTests {
    @Test("paging carries Laravel's fields; next_page_url is followable; dates only when asked")
    func paging() async throws {
        try await withSimulator(SimulatorConfig(registrantsPerPage: 2)) { _, client in
            for index in 1...5 { _ = try await client.register(email: "lead\(index)@example.com") }
            let first = try #require(
                try await client.post("/webinarjam/registrants", webinarFields).json()["registrants"] as? [String: Any]
            )
            #expect(first["current_page"] as? Int == 1)
            #expect(first["last_page"] as? Int == 3)
            #expect(first["per_page"] as? Int == 2)
            #expect(first["total"] as? Int == 5)
            #expect(first["from"] as? Int == 1)
            #expect(first["to"] as? Int == 2)
            #expect(first["prev_page_url"] is NSNull)
            let next = try #require(first["next_page_url"] as? String)
            #expect(next == client.base + "/webinarjam/registrants?page=2")
            #expect(first["last_page_url"] as? String == client.base + "/webinarjam/registrants?page=3")
            #expect((first["data"] as? [[String: Any]])?.first?["date"] == nil)

            // POST to next_page_url without a page field: the page comes from the query.
            let second = try #require(
                try await client.post(next, webinarFields).json()["registrants"] as? [String: Any]
            )
            #expect(second["current_page"] as? Int == 2)
            #expect(
                (second["data"] as? [[String: Any]])?.map { $0["email"] as? String } == [
                    "lead3@example.com", "lead4@example.com",
                ]
            )
            #expect(second["prev_page_url"] as? String == client.base + "/webinarjam/registrants?page=1")

            let last = try #require(
                try await client.post("/webinarjam/registrants", webinarFields + [("page", "3")]).json()["registrants"]
                    as? [String: Any]
            )
            #expect(last["next_page_url"] is NSNull)
            #expect((last["data"] as? [Any])?.count == 1)

            let beyond = try #require(
                try await client.post("/webinarjam/registrants", webinarFields + [("page", "9")]).json()["registrants"]
                    as? [String: Any]
            )
            #expect((beyond["data"] as? [Any])?.isEmpty == true)
            #expect(beyond["from"] is NSNull)
            #expect(beyond["next_page_url"] is NSNull)
        }
    }

    @Test("ignore search lists every row; registrants dates add the session date to each row")
    func searchAndDates() async throws {
        let config = SimulatorConfig(ignoreSearch: true, registrantsDates: true)
        try await withSimulator(config) { _, client in
            _ = try await client.register(email: "ann@example.com")
            _ = try await client.register(email: "bob@example.com", schedule: 46)
            _ = try await client.register(email: "cat@example.com", webinar: 3, schedule: 31)
            let answer = try await client.post(
                "/webinarjam/registrants",
                webinarFields + [("search", "ann@example.com")]
            ).json()
            let rows = try #require((answer["registrants"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(rows.map { $0["email"] as? String } == ["ann@example.com", "bob@example.com"])
            #expect(rows.map { $0["date"] as? String } == ["2024-01-05 13:00", "2024-01-06 14:00"])
            // The schedule filter still applies.
            let bySchedule = try await client.post(
                "/webinarjam/registrants",
                webinarFields + [("schedule_id", "46"), ("search", "ann")]
            ).json()
            #expect(((bySchedule["registrants"] as? [String: Any])?["total"] as? Int) == 1)
            let always = try await client.post("/webinarjam/registrants", [("webinar_id", "3")]).json()
            let alwaysRows = try #require((always["registrants"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(alwaysRows.first?["date"] as? String == "")
        }
    }

    @Test("EverWebinar: two session dates of one schedule are two registrations; duplicates count per session")
    func everWebinarSessions() async throws {
        try await withSimulator(SimulatorConfig(duplicatePolicy: .sameUser)) { sim, client in
            func register(_ email: String, date: String, zone: String? = nil) async throws -> [String: Any] {
                var extra = [("date", date)]
                if let zone { extra.append(("timezone", zone)) }
                let answer = try await client.register(
                    email: email,
                    platform: "everwebinar",
                    webinar: 7,
                    schedule: 71,
                    extra: extra
                )
                #expect(answer.status == 200)
                return try answer.user()
            }
            let friday = try await register("Ann@example.com", date: "2024-01-05 19:00")
            let saturday = try await register("ann@example.com", date: "2024-01-06 19:00")
            #expect(friday["user_id"] as? Int != saturday["user_id"] as? Int)
            #expect(await sim.stats().duplicates == 0)
            #expect(await sim.stats().totalRegistrations == 2)

            // The Friday session again, shown in another zone: the same session, the same user.
            let fridayGMT = try await register("ANN@example.com", date: "2024-01-06 00:00", zone: "GMT+0")
            #expect(fridayGMT["user_id"] as? Int == friday["user_id"] as? Int)
            let stats = await sim.stats()
            #expect(stats.duplicates == 1)
            #expect(stats.totalRegistrations == 2)
            #expect(stats.successfulRegisterCalls == 3)

            let dump = try await client.send("/__sim/registrations", method: .GET).json()
            let rows = try #require(dump["registrations"] as? [[String: Any]])
            #expect(rows.map { $0["date"] as? String } == ["2024-01-05 19:00", "2024-01-06 19:00"])
            #expect(rows.map { $0["schedule"] as? Int } == [71, 71])
        }
        // WebinarJam keeps platform/webinar/schedule/email: a second call is the same registration.
        try await withSimulator(SimulatorConfig(duplicatePolicy: .error)) { _, client in
            let first = try await client.register(email: "ann@example.com")
            #expect(first.status == 200)
            let second = try await client.register(email: "ann@example.com")
            #expect(second.status == 422)
            // EverWebinar with the error policy: another session is allowed, the same one is not.
            func ew(_ date: String) async throws -> Int {
                try await client.register(
                    email: "ann@example.com",
                    platform: "everwebinar",
                    webinar: 7,
                    schedule: 71,
                    extra: [("date", date)]
                ).status
            }
            #expect(try await ew("2024-01-05 19:00") == 200)
            #expect(try await ew("2024-01-07 19:00") == 200)
            #expect(try await ew("2024-01-05 19:00") == 422)
        }
    }

    @Test("registrants down for N seconds: 503 HTML, then normal; other methods unaffected")
    func registrantsDown() async throws {
        let clock = ManualClock()
        let config = SimulatorConfig(faults: SimFaults(registrantsDownS: 5), clocks: .manual(clock))
        try await withSimulator(config) { sim, client in
            let down = try await client.post("/webinarjam/registrants", webinarFields)
            #expect(down.status == 503)
            #expect(down.header("Content-Type") == "text/html")
            #expect(down.body.contains("503 Service Temporarily Unavailable"))
            #expect(try await client.register(email: "a@example.com").status == 200)
            #expect(try await client.post("/webinarjam/webinar", webinarFields).status == 200)
            clock.advance(by: .milliseconds(4_999))
            #expect(try await client.post("/webinarjam/registrants", webinarFields).status == 503)
            clock.advance(by: .milliseconds(1))
            let up = try await client.post("/webinarjam/registrants", webinarFields)
            #expect(up.status == 200)
            #expect(((try up.json()["registrants"] as? [String: Any])?["total"] as? Int) == 1)
            #expect(await sim.stats().faultsInjected == ["registrantsDown": 2])
            // Replacing the settings starts the downtime again.
            try await sim.setFaults(SimFaults(registrantsDownS: 1))
            #expect(try await client.post("/webinarjam/registrants", webinarFields).status == 503)
            clock.advance(by: .seconds(1))
            #expect(try await client.post("/webinarjam/registrants", webinarFields).status == 200)
        }
    }
}

@Suite("Simulator: runtime fault settings")
struct RuntimeConfigTests {
    @Test("POST /__sim/config turns faults on and off while running; GET shows them")
    func switchFaults() async throws {
        try await withSimulator { sim, client in
            #expect(try await client.register(email: "a@example.com").status == 200)

            let on = try await client.setFaults(
                #"{"vendorTroubleRate":1,"methods":["register","webinars"],"latencyMs":"5-10"}"#
            )
            #expect(on.status == 200)
            #expect(try on.json()["vendorTroubleRate"] as? Double == 1)
            #expect(await sim.faults().latencyMs == 5...10)
            #expect(await sim.faults().methods == [.register, .webinars])
            do {
                let answer = try await client.register(email: "b@example.com")
                #expect(try answer.json()["status"] as? String == "error")
            }
            do {
                let answer = try await client.post("/webinarjam/webinars")
                #expect(try answer.json()["status"] as? String == "error")
            }

            let shown = try await client.send("/__sim/config", method: .GET).json()
            #expect(shown["vendorTroubleRate"] as? Double == 1)
            #expect(shown["latencyMs"] as? [Int] == [5, 10])
            #expect(shown["methods"] as? [String] == ["register", "webinars"])

            // `{}` is "no faults": every key takes its default.
            let off = try await client.setFaults("{}")
            #expect(off.status == 200)
            #expect(await sim.faults() == SimFaults())
            #expect(try await client.register(email: "c@example.com").status == 200)

            #expect(await sim.registrations().map(\.email) == ["a@example.com", "c@example.com"])
            #expect(await sim.stats().faultsInjected == ["vendorTrouble": 2])
            #expect(await sim.stats().totalCalls == 4)  // kept across the changes
        }
    }

    @Test("POST /__sim/config refuses unknown keys, invalid values and non-JSON, and keeps the settings")
    func invalidSettings() async throws {
        try await withSimulator(SimulatorConfig(faults: SimFaults(slowMs: 7))) { sim, client in
            let unknown = try await client.setFaults(#"{"trubleRate":1}"#)
            #expect(unknown.status == 400)
            #expect((try unknown.json()["message"] as? String)?.contains("unknown setting 'trubleRate'") == true)
            let invalid = try await client.setFaults(#"{"statusErrorRate":0.7,"proxyPageRate":0.7}"#)
            #expect(invalid.status == 400)
            #expect(try invalid.json()["message"] as? String == "fault rates add up to 1.4, more than 1")
            let wrongType = try await client.setFaults(#"{"methods":"register"}"#)
            #expect(wrongType.status == 400)
            let notJSON = try await client.setFaults("statusErrorRate=1")
            #expect(notJSON.status == 400)
            #expect(await sim.faults() == SimFaults(slowMs: 7))
            await #expect(throws: SimulatorError.self) { try await sim.setFaults(SimFaults(slowRate: 2)) }
            let get = try await client.send("/__sim/config", method: .PUT, body: "{}")
            #expect(get.status == 405)
        }
    }

    @Test("SimFaults JSON round-trips; latency as a number or a range")
    func faultsJSON() throws {
        let faults = SimFaults(
            latencyMs: 10...20,
            statusErrorRate: 0.1,
            methods: Set(SimMethod.allCases),
            vendorTroubleRate: 0.2,
            proxyPageRate: 0.3,
            proxyPageStatuses: [504, 524],
            refusals: ["a@example.com": "closed"],
            fieldRefusals: ["b@example.com": "phone"],
            webinarNotFoundFirst: 2,
            registrantsDownS: 30
        )
        let data = try JSONEncoder().encode(faults)
        #expect(try JSONDecoder().decode(SimFaults.self, from: data) == faults)
        let single = try JSONDecoder().decode(SimFaults.self, from: Data(#"{"latencyMs":150}"#.utf8))
        #expect(single.latencyMs == 150...150)
        let pair = try JSONDecoder().decode(SimFaults.self, from: Data(#"{"latencyMs":[1,2]}"#.utf8))
        #expect(pair.latencyMs == 1...2)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SimFaults.self, from: Data(#"{"latencyMs":[2,1]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SimFaults.self, from: Data(#"{"latencyMs":true}"#.utf8))
        }
    }
}

extension RunningSimulator {
    /// ``setFaults(_:)`` for settings known to be valid.
    func setFaultsOrFail(_ faults: SimFaults, sourceLocation: SourceLocation = #_sourceLocation) async {
        do { try await setFaults(faults) } catch { Issue.record(error, sourceLocation: sourceLocation) }
    }
}
