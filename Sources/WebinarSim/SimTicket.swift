import Foundation

/// An API answer before it is written: status, content type and body.
struct SimAnswer: Error, Sendable {
    var status: Int
    var contentType: String
    var body: String

    static func json(_ status: Int, _ value: JSONValue) -> SimAnswer {
        SimAnswer(status: status, contentType: "application/json", body: value.rendered)
    }

    static func error(_ status: Int, _ pairs: [(String, JSONValue)]) -> SimAnswer {
        .json(status, .object([("status", .string("error"))] + pairs))
    }

    static func message(_ status: Int, _ text: String) -> SimAnswer {
        .error(status, [("message", .string(text))])
    }
}

/// What the HTTP layer must do for one API call after ``SimState/begin(platform:method:fields:url:)``.
enum SimPlan: Sendable {
    /// Answer at once (404, key errors, 429, body problems).
    case answer(SimAnswer)
    /// Go on: wait `delayMs`, apply `fault`, then ``SimState/execute(_:)``.
    case proceed(SimTicket)
}

/// An accepted call.
struct SimTicket: Sendable {
    var platform: SimPlatform
    var method: SimMethod
    var fields: [String: String]
    var fault: SimFault?
    var delayMs: Int
    /// The URL of the call without its query (for `next_page_url`).
    var url: String = ""
    /// The drawn variant of the fault: the trouble message of ``SimFault/vendorTrouble``,
    /// the status of ``SimFault/proxyPage``.
    var variant: Int = 0
    /// A `registrants` call inside ``SimFaults/registrantsDownS``: answered a 503 page.
    var registrantsDown = false
    /// ``SimFaults/oversizedBodyBytes`` when the call was accepted.
    var oversizedBodyBytes: Int = 0
}

/// A registration's identity for the duplicate policy: platform, webinar, schedule, email
/// (lower-cased) and, for EverWebinar, the session (its date in the webinar's own zone), since
/// one EverWebinar schedule runs many sessions and a person may attend two of them.
struct SimTarget: Hashable, Sendable {
    var platform: SimPlatform
    var webinarID: Int
    var schedule: Int
    var session: String
    var email: String
}
