import Foundation
import Testing

@testable import WebinarAPI

/// Real answer shapes (status, body) → the class each proves (SPEC "Errors").
@Suite("Answers judged by their evidence")
struct EvidenceTests {
    static let cloudflare520 = """
        <!DOCTYPE html><html><head><title>api.webinarjam.com | 520: Web server is returning an unknown error</title>\
        </head><body>Error code 520</body></html>
        """
    static let nginx504 =
        "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center><hr><center>nginx</center></body></html>"
    static let nginx408 = "<html><head><title>408 Request Time-out</title></head><body>408</body></html>"

    enum Class: String {
        case rateLimited, unauthorized, rejected, unexplained, busy, timedOut, maybeReached, unreachable, success
    }

    static func classOf(_ failure: APIFailure?) -> Class {
        switch failure {
        case nil: return .success
        case .rateLimited?: return .rateLimited
        case .unauthorized?: return .unauthorized
        case .rejected?: return .rejected
        case .unexplained?: return .unexplained
        case .busy?: return .busy
        case .timedOut?: return .timedOut
        case .transient(_, true)?: return .maybeReached
        case .transient(_, false)?: return .unreachable
        }
    }

    static let table: [(Int, String, Class)] = [
        // Rate limited, in any envelope.
        (429, "Too many requests", .rateLimited),
        (429, "<html><title>429 Too Many Requests</title></html>", .rateLimited),
        (200, #"{"status":"error","message":"Too many requests"}"#, .rateLimited),
        (400, #"{"status":"error","message":"Rate limit exceeded, slow down"}"#, .rateLimited),
        // The key.
        (400, #"{"status":"error","errors":{"api_key":["The api key field is required."]}}"#, .unauthorized),
        (401, #"{"status":"error","errors":{"api_key":"You must specify a valid API key"}}"#, .unauthorized),
        (403, #"{"status":"error","message":"Invalid API key"}"#, .unauthorized),
        // The request at fault: a field of the request, the lead, the webinar, the schedule, the date.
        (422, #"{"status":"error","errors":{"email":["The email must be a valid email address."]}}"#, .rejected),
        (
            422,
            #"{"status":"error","message":"The given data was invalid.","errors":{"phone":["The phone field is required."]}}"#,
            .rejected
        ),
        (200, #"{"status":"error","errors":{"twilio_consent":"required"}}"#, .rejected),
        (400, #"{"status":"error","message":"Webinar not found"}"#, .rejected),
        (400, #"{"status":"error","error":"Invalid schedule 99 for webinar 5"}"#, .rejected),
        (
            422, #"{"status":"error","message":"Invalid date '2025-01-01 09:00': it does not match any session"}"#,
            .rejected
        ),
        (422, #"{"status":"error","message":"This email is already registered for this webinar."}"#, .rejected),
        (200, #"{"status":"error","message":"Webinar is full"}"#, .rejected),
        // The vendor's trouble, in a JSON envelope: nothing was done.
        (200, #"{"status":"error","message":"Service temporarily unavailable, please try again later"}"#, .busy),
        (200, #"{"status":"error","message":"Database error"}"#, .busy),
        (200, #"{"status":"error"}"#, .busy),
        (200, #"{"status":"error","message":""}"#, .busy),
        (500, #"{"status":"error","message":"Internal error, try again later"}"#, .maybeReached),
        (408, nginx408, .busy),
        (425, "Too Early", .busy),
        // The vendor's trouble that may have done the work.
        (502, "<html><title>502 Bad Gateway</title></html>", .maybeReached),
        (503, "", .maybeReached),
        (504, nginx504, .maybeReached),
        (520, cloudflare520, .maybeReached),
        (524, "<html><title>524: A timeout occurred</title></html>", .maybeReached),
        (200, "<html><body>maintenance</body></html>", .maybeReached),
        (200, #"{"status":"success","us"#, .maybeReached),
        (302, "", .maybeReached),
        // Answers that name nothing: trouble until they repeat.
        (200, #"{"status":"error","message":"Registration refused"}"#, .unexplained),
        (403, "<h1>Forbidden</h1>", .unexplained),
        (404, "Not Found", .unexplained),
        (400, #"{"status":"error","message":"Operation not permitted"}"#, .unexplained),
    ]

    @Test("every class, from real answer shapes", arguments: table.indices)
    func classification(_ index: Int) {
        let (status, body, expected) = Self.table[index]
        let result = AnswerParser.register(
            status: status,
            body: Array(body.utf8),
            secret: nil,
            sentFields: ["webinar_id", "first_name", "email", "schedule", "twilio_consent"]
        )
        #expect(Self.classOf(result.failure) == expected, "\(status) \(body)")
    }

    @Test("a message naming a custom question that was sent is about the request")
    func customQuestion() {
        let body = #"{"status":"error","message":"What is your role? must be one of the options"}"#
        let named = AnswerParser.register(
            status: 200,
            body: Array(body.utf8),
            secret: nil,
            sentFields: ["email", "What is your role?"]
        )
        #expect(Self.classOf(named.failure) == .rejected)
        let notSent = AnswerParser.register(status: 200, body: Array(body.utf8), secret: nil, sentFields: ["email"])
        #expect(Self.classOf(notSent.failure) == .unexplained)
    }

    @Test("an HTML page's title becomes the reason")
    func pageTitle() {
        let result = AnswerParser.register(status: 520, body: Array(Self.cloudflare520.utf8), secret: nil)
        #expect(result.failure?.text.contains("520: Web server is returning an unknown error") == true)
    }
}
