import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import WebinarAPI

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Answer parsing on canned bodies")
struct ParsingTests {
    @Test("the seed's EverWebinar register answer: schedule as a string, password null")
    func seedEverWebinarRegister() throws {
        let body = """
            {"status":"success","user":{"webinar_id":6,"webinar_hash":"uvw1234","user_id":1234567,
            "first_name":"FirstName","last_name":"LastName","phone_country_code":"+1","phone":"1234567890",
            "email":"test@email.com","password":null,"schedule":"55","date":"2024-01-05 12:00",
            "timezone":"America/Los_Angeles","live_room_url":"https://event.webinarjam.com/go/live/6/ab1cd2ef3",
            "replay_room_url":"https://event.webinarjam.com/go/replay/6/ab1cd2ef3",
            "thank_you_url":"https://event.webinarjam.com/registration/thank-you/6/ab1cd2ef3gh4"}}
            """
        let user = try #require(AnswerParser.register(status: 200, body: bytes(body), secret: nil).value)
        #expect(
            user
                == RegisteredUser(
                    userID: 1_234_567,
                    webinarID: 6,
                    webinarHash: "uvw1234",
                    email: "test@email.com",
                    password: nil,
                    schedule: 55,
                    date: "2024-01-05 12:00",
                    timezone: "America/Los_Angeles",
                    liveRoomURL: "https://event.webinarjam.com/go/live/6/ab1cd2ef3",
                    replayRoomURL: "https://event.webinarjam.com/go/replay/6/ab1cd2ef3",
                    thankYouURL: "https://event.webinarjam.com/registration/thank-you/6/ab1cd2ef3gh4"
                )
        )
    }

    @Test("numeric strings, empty strings, absent fields, unknown fields")
    func quirks() throws {
        let body = """
            {"status":"success","extra":{"nested":[1,2]},"user":{"webinar_id":"5","user_id":" 42 ","email":"",
            "schedule":34.0,"password":"","live_room_url":"https://x/live","replay_room_url":"","unknown":true}}
            """
        let user = try #require(AnswerParser.register(status: 200, body: bytes(body), secret: nil).value)
        #expect(user.webinarID == 5)
        #expect(user.userID == 42)
        #expect(user.schedule == 34)
        #expect(user.email == nil)
        #expect(user.password == nil)
        #expect(user.replayRoomURL == nil)
        #expect(user.thankYouURL == nil)
        #expect(user.date == nil)
    }

    @Test("a success without user_id or live_room_url is transient, not a success")
    func incompleteSuccess() throws {
        for body in [
            #"{"status":"success","user":{"live_room_url":"https://x"}}"#,
            #"{"status":"success","user":{"user_id":1,"live_room_url":""}}"#,
            #"{"status":"success"}"#,
            #"{"status":"success","user":{"user_id":"abc","live_room_url":"https://x"}}"#,
        ] {
            let failure = AnswerParser.register(status: 200, body: bytes(body), secret: nil).failure
            let reason = try #require(
                reachedTrouble(failure),
                "\(body): expected transient, got \(String(describing: failure))"
            )
            #expect(reason.hasPrefix("undecodable success answer"))
        }
    }

    @Test("webinars: type null or absent, schedules as strings (or objects, tolerated)")
    func webinarsList() throws {
        let body = """
            {"status":"success","webinars":[
              {"webinar_id":4,"webinar_hash":"lmno3456","name":"Demo4","title":"Demo4","description":"Right now",
               "type":"Right Now","schedules":["Right now"],"timezone":"America/New_York"},
              {"webinar_id":"9","webinar_hash":"tuvw1234","name":"Demo6","schedules":["Instant replay",
               {"date":"2024-01-05 13:00","schedule":56,"comment":"Every day, 01:00 PM"}],"type":null},
              {"webinar_id":"bad"}, "junk"]}
            """
        let list = try #require(AnswerParser.webinars(status: 200, body: bytes(body), secret: nil).value)
        #expect(list.map(\.webinarID) == [4, 9])
        #expect(list[0].type == "Right Now")
        #expect(list[1].type == nil)
        #expect(list[1].schedules == ["Instant replay", "Every day, 01:00 PM"])
        #expect(list[1].title == nil)
    }

    @Test("webinar: the seed's WebinarJam answer with type null")
    func webinarSeed() throws {
        let body = """
            {"status":"success","webinar":{"webinar_id":5,"webinar_hash":"pqrs7890","name":"Demo5","title":"Demo5",
            "description":"Multiple events","type":null,"schedules":[
            {"date":"2024-01-05 13:00","schedule":34,"comment":"Friday, 5 Jan 2024, 01:00 PM"},
            {"date":"2024-01-06 14:00","schedule":"46","comment":"Saturday, 6 Jan 2024, 02:00 PM"}],
            "timezone":"America/Los_Angeles","presenters":[{"name":"John Doe"}],
            "registration_url":"https://event.webinarjam.com/register/5/pqrs7890","registration_fee":0,
            "registration_currency":""}}
            """
        let webinar = try #require(AnswerParser.webinar(status: 200, body: bytes(body), secret: nil).value)
        #expect(webinar.type == nil)
        #expect(
            webinar.schedules == [
                ScheduleInfo(schedule: 34, date: "2024-01-05 13:00", comment: "Friday, 5 Jan 2024, 01:00 PM"),
                ScheduleInfo(schedule: 46, date: "2024-01-06 14:00", comment: "Saturday, 6 Jan 2024, 02:00 PM"),
            ]
        )
        #expect(webinar.registrationURL == "https://event.webinarjam.com/register/5/pqrs7890")
    }

    @Test("registrants: paginated with and without last_page, flat lists, links")
    func registrantsShapes() throws {
        let paginated = """
            {"status":"success","registrants":{"current_page":"2","data":[
              {"id":10,"lead_id":"777","first_name":"A","last_name":"","email":"a@example.com","schedule_id":"34",
               "signup_date":"Fri, 31 Oct 2025, 12:00 PM",
               "links":{"live_room":"https://l/1","replay_room":"https://r/1","unsubscribe":"https://u/1"}},
              {"id":11,"first_name":"no email"}]}}
            """
        let page = try #require(AnswerParser.registrants(status: 200, body: bytes(paginated), secret: nil).value)
        #expect(page.currentPage == 2)
        #expect(page.lastPage == nil)
        #expect(
            page.registrants == [
                Registrant(
                    id: 10,
                    leadID: 777,
                    email: "a@example.com",
                    firstName: "A",
                    lastName: nil,
                    scheduleID: 34,
                    signupDate: "Fri, 31 Oct 2025, 12:00 PM",
                    liveRoomURL: "https://l/1",
                    replayRoomURL: "https://r/1"
                )
            ]
        )

        let flat = #"{"status":"success","registrants":[{"email":"b@example.com","live_room_url":"https://l/2"}]}"#
        let flatPage = try #require(AnswerParser.registrants(status: 200, body: bytes(flat), secret: nil).value)
        #expect(flatPage.currentPage == 1)
        #expect(flatPage.registrants.first?.liveRoomURL == "https://l/2")

        let empty = #"{"status":"success","registrants":{"current_page":1,"last_page":1,"data":[]}}"#
        #expect(AnswerParser.registrants(status: 200, body: bytes(empty), secret: nil).value?.registrants == [])
    }

    @Test("status codes and envelopes map to the right failure")
    func classification() {
        func failure(_ status: Int, _ body: String) -> APIFailure? {
            AnswerParser.webinars(status: status, body: bytes(body), secret: nil).failure
        }
        #expect(failure(429, "Too many requests") == .rateLimited)
        #expect(failure(429, "") == .rateLimited)
        #expect(
            failure(400, #"{"status":"error","errors":{"api_key":["The api key field is required."]}}"#)
                == .unauthorized(message: "The api key field is required.")
        )
        #expect(
            failure(401, #"{"status":"error","errors":{"api_key":"You must specify a valid API key"}}"#)
                == .unauthorized(message: "You must specify a valid API key")
        )
        #expect(
            failure(200, #"{"status":"error","errors":{"api_key":"You must specify a valid API key"}}"#)
                == .unauthorized(message: "You must specify a valid API key")
        )
        #expect(failure(401, "") == .unauthorized(message: "HTTP 401"))
        // A firewall's page is not the application refusing the key.
        #expect(
            failure(403, "<h1>Forbidden</h1>")
                == .unexplained(httpStatus: 403, message: "<h1>Forbidden</h1> (HTTP 403)")
        )
        #expect(
            failure(422, #"{"status":"error","errors":"Bad date"}"#) == .rejected(httpStatus: 422, message: "Bad date")
        )
        #expect(
            failure(422, #"{"status":"error","errors":{"phone":"digits only","email":"invalid"}}"#)
                == .rejected(httpStatus: 422, message: "email: invalid; phone: digits only")
        )
        #expect(
            failure(422, #"{"status":"error","message":"The given data was invalid.","errors":{"email":["a","b"]}}"#)
                == .rejected(httpStatus: 422, message: "email: a; b")
        )
        #expect(
            failure(400, #"{"error":"Invalid schedule"}"#) == .rejected(httpStatus: 400, message: "Invalid schedule")
        )
        #expect(
            failure(400, #"{"error":{"code":12,"message":"Nested"}}"#)
                == .unexplained(httpStatus: 400, message: "Nested")
        )
        #expect(failure(404, "Not Found") == .unexplained(httpStatus: 404, message: "Not Found (HTTP 404)"))
        #expect(failure(409, "") == .unexplained(httpStatus: 409, message: "HTTP 409"))
        #expect(
            failure(200, #"{"status":"error","message":"Webinar is full"}"#)
                == .rejected(httpStatus: 200, message: "Webinar is full")
        )
        #expect(
            failure(200, #"{"status":"error"}"#)
                == .busy(httpStatus: 200, message: "the API answered \"status\":\"error\" without a message (HTTP 200)")
        )
        #expect(
            failure(503, #"{"status":"error","message":"Down"}"#)
                == .transient(reason: "HTTP 503 from the API: Down", mayHaveReachedVendor: true)
        )
        #expect(
            failure(500, "") == .transient(reason: "HTTP 500 from the API", mayHaveReachedVendor: true)
        )
        #expect(
            failure(200, #"{"status":"success","webi"#)
                == .transient(
                    reason: #"unreadable answer (HTTP 200, not JSON): {"status":"success","webi"#,
                    mayHaveReachedVendor: true
                )
        )
        #expect(
            failure(200, "")
                == .transient(reason: "unreadable answer (HTTP 200, not JSON): empty body", mayHaveReachedVendor: true)
        )
        #expect(
            failure(302, "")
                == .transient(reason: "unexpected HTTP status 302 from the API", mayHaveReachedVendor: true)
        )
        #expect(
            failure(200, #"{"webinars":[]}"#)
                == .transient(
                    reason: #"unexpected answer (HTTP 200) without "status":"success""#,
                    mayHaveReachedVendor: true
                )
        )
    }

    @Test("long messages are capped")
    func longMessage() {
        let long = String(repeating: "x", count: 2000)
        let failure = AnswerParser.webinars(status: 422, body: bytes(#"{"message":"\#(long)"}"#), secret: nil).failure
        guard case .unexplained(_, let message) = failure else {
            Issue.record("expected unexplained")
            return
        }
        #expect(message.count == AnswerParser.maxMessageLength + 1)
    }
}

@Suite("Form encoding and request fields")
struct FormTests {
    @Test("WHATWG form encoding")
    func encode() {
        #expect(FormEncoding.encode("+1") == "%2B1")
        #expect(FormEncoding.encode("a b&c=d") == "a+b%26c%3Dd")
        #expect(FormEncoding.encode("José") == "Jos%C3%A9")
        #expect(FormEncoding.encode("a*-._~") == "a*-._%7E")
        #expect(FormEncoding.encode([("phone_country_code", "+1"), ("x", "")]) == "phone_country_code=%2B1&x=")
    }

    @Test("register fields: required, optional only when non-empty, EverWebinar extras, pass-through")
    func registerFields() {
        var request = RegistrationRequest(
            platform: .webinarjam,
            webinarID: 5,
            schedule: 34,
            firstName: "Ann",
            lastName: "",
            email: "a@example.com",
            phoneCountryCode: "+1",
            phone: nil,
            timezone: "GMT-5",
            date: "2024-01-05 13:00",
            extraFields: ["country": "US", "api_key": "x", "schedule": "1", "empty": ""]
        )
        let wj = HTTPWebinarAPI.formFields(for: request).map { "\($0.0)=\($0.1)" }
        #expect(
            wj == [
                "webinar_id=5", "first_name=Ann", "email=a@example.com", "schedule=34", "phone_country_code=+1",
                "country=US",
            ]
        )
        request.platform = .everwebinar
        let ew = HTTPWebinarAPI.formFields(for: request).map(\.0)
        #expect(
            ew == [
                "webinar_id", "first_name", "email", "schedule", "phone_country_code", "timezone", "date", "country",
            ]
        )
    }

    @Test("registrants fields")
    func registrantsFields() {
        let query = RegistrantsQuery(platform: .everwebinar, webinarID: 6, scheduleID: 56, search: "a@b.c", page: 0)
        #expect(
            HTTPWebinarAPI.formFields(for: query).map { "\($0.0)=\($0.1)" }
                == ["webinar_id=6", "schedule_id=56", "search=a@b.c", "page=1"]
        )
    }
}

@Suite("Base URL validation")
struct BaseURLTests {
    @Test(
        "accepted URLs, normalised",
        arguments: [
            ("https://api.webinarjam.com", "https://api.webinarjam.com"),
            ("https://api.webinarjam.com/", "https://api.webinarjam.com"),
            ("HTTPS://API.webinarjam.com:8443/prefix/", "https://api.webinarjam.com:8443/prefix"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.1.2.3", "http://127.1.2.3"),
            ("http://localhost:9/", "http://localhost:9"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ]
    )
    func accepted(input: String, expected: String) throws {
        #expect(try HTTPWebinarAPI.validateBaseURL(input) == expected)
    }

    @Test("refused URLs with clear errors")
    func refused() {
        func error(_ text: String) -> BaseURLError? {
            do {
                _ = try HTTPWebinarAPI.validateBaseURL(text)
                return nil
            } catch {
                return error
            }
        }
        #expect(error("http://api.webinarjam.com") == .insecureRemoteHost("api.webinarjam.com"))
        #expect(error("http://10.0.0.1:8080") == .insecureRemoteHost("10.0.0.1"))
        #expect(error("http://127.0.0.1.evil.com") == .insecureRemoteHost("127.0.0.1.evil.com"))
        #expect(error("http://localhost.evil.com") == .insecureRemoteHost("localhost.evil.com"))
        #expect(error("ftp://api.webinarjam.com") == .unsupportedScheme("ftp"))
        #expect(error("api.webinarjam.com") == .unparsable("api.webinarjam.com"))
        #expect(error("") == .unparsable(""))
        #expect(error("https://user:pw@api.webinarjam.com") == .unexpectedComponents("https://…@api.webinarjam.com"))
        #expect(error("https://api.webinarjam.com/?x=1") == .unexpectedComponents("https://api.webinarjam.com/?x=1"))
        #expect(error("http://api.webinarjam.com")?.description.contains("https:// is required") == true)
        #expect(throws: BaseURLError.self) { _ = try HTTPWebinarAPI(baseURL: "http://example.com", apiKey: "k") }
    }
}

@Suite("Transport error classification")
struct TransportTests {
    @Test(
        "never sent → mayHaveReachedVendor false",
        arguments: [
            HTTPClientError.connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout, .alreadyShutdown,
        ]
    )
    func notReached(error: HTTPClientError) {
        guard case .transient(_, false) = HTTPWebinarAPI.failure(forTransportError: error, secret: nil) else {
            Issue.record("\(error) should be not reached")
            return
        }
    }

    @Test(
        "possibly sent → mayHaveReachedVendor true",
        arguments: [
            HTTPClientError.readTimeout, .writeTimeout, .deadlineExceeded, .remoteConnectionClosed, .cancelled,
            .bodyLengthMismatch,
        ]
    )
    func reached(error: HTTPClientError) {
        guard HTTPWebinarAPI.failure(forTransportError: error, secret: nil).mayHaveActed else {
            Issue.record("\(error) should be possibly reached")
            return
        }
    }

    @Test("NIO errors")
    func nioErrors() {
        #expect(
            HTTPWebinarAPI.failure(forTransportError: IOError(errnoCode: ECONNREFUSED, reason: "connect"), secret: nil)
                == .transient(reason: "connection refused", mayHaveReachedVendor: false)
        )
        #expect(
            HTTPWebinarAPI.failure(forTransportError: IOError(errnoCode: ECONNRESET, reason: "read"), secret: nil)
                == .transient(reason: "connection reset by peer", mayHaveReachedVendor: true)
        )
        #expect(
            HTTPWebinarAPI.failure(forTransportError: ChannelError.connectTimeout(.seconds(1)), secret: nil)
                == .transient(reason: "connect timeout", mayHaveReachedVendor: false)
        )
        #expect(
            HTTPWebinarAPI.failure(forTransportError: ChannelError.ioOnClosedChannel, secret: nil)
                == .transient(reason: "connection error: I/O on closed channel", mayHaveReachedVendor: true)
        )
        #expect(
            HTTPWebinarAPI.failure(forTransportError: ResponseTooLarge(limit: 10), secret: nil)
                == .transient(reason: "response too large (over 10 bytes)", mayHaveReachedVendor: true)
        )
        struct Mystery: Error {}
        guard case .transient(_, true) = HTTPWebinarAPI.failure(forTransportError: Mystery(), secret: nil) else {
            Issue.record("unknown errors must be possibly reached")
            return
        }
    }

    @Test("DNS failure of an unresolvable host is not reached")
    func dnsFailure() async throws {
        let api = try HTTPWebinarAPI(
            baseURL: "https://nonexistent.invalid",
            apiKey: testKey,
            connectTimeout: .seconds(3)
        )
        let failure = await api.webinars(platform: .webinarjam).failure
        try await api.shutdown()
        guard case .transient(_, false) = failure else {
            Issue.record("expected not reached, got \(String(describing: failure))")
            return
        }
    }
}
