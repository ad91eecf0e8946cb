import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The vendor API simulator: `POST /{webinarjam|everwebinar}/{webinars|webinar|register|registrants}`
/// on 127.0.0.1, plus admin endpoints under `/__sim/`:
///
/// - `GET /__sim/stats`: ``SimulatorStats`` as JSON (snake_case keys).
/// - `GET /__sim/registrations`: `{"registrations": [SimRegistration…]}`.
/// - `POST /__sim/reset`: forget registrations, counters, rate windows and queued faults (the
///   fault settings in force are kept; the registrants downtime and webinar-not-found counts restart).
/// - `POST /__sim/faults` with `{"faults": ["resetAfterStore", …]}`: the next fault-eligible
///   calls get these faults, in order, before any random draw.
/// - `POST /__sim/reset-links` with `{"platform": "webinarjam", "webinar_id": 5, "schedule": 34}`
///   (schedule optional): new links for every registrant, as when a session is edited.
/// - `POST /__sim/delete-registrants` with `{"platform": …, "webinar_id": …, "schedule": …,
///   "emails": […]}`: those registrations deleted, as when a session is deleted.
/// - `GET /__sim/config`: the fault settings in force, as ``SimFaults`` JSON (camelCase keys).
/// - `POST /__sim/config` with a ``SimFaults`` JSON body (every key optional, absent keys take
///   their defaults, so `{}` turns every fault off): replaces the fault settings while the
///   simulator runs, e.g. `{"proxyPageRate":1,"proxyPageStatuses":[504]}`. Answers the
///   settings now in force; 400 with a message for an unknown key or an invalid value.
///   Registrations, counters and queued faults are kept; the registrants downtime and the
///   webinar-not-found counts start again.
///
/// Any HTTP method but POST on an API path answers 405 (`Allow: POST`). An API call's fields
/// are its body's (form or JSON) over its query string's, as Laravel's `input()` merges them,
/// so a POST to a `next_page_url` reads its `page` from the URL.
///
/// Once a call is accepted, its work (latency, fault, storing) runs apart from the connection:
/// a client that gives up and closes the connection does not stop a registration from being
/// stored when its delay ends, as a real server's worker finishes a request nobody waits for.
public enum Simulator {
    /// Starts a simulator in the background and returns once it listens.
    /// - Throws: ``SimulatorError`` for an invalid configuration or a port that cannot be bound.
    public static func start(
        config: SimulatorConfig,
        logger: Logger = Logger(label: "bulkreg.sim")
    )
        async throws -> RunningSimulator
    {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        let bound = BoundPort()
        let app = makeApplication(config: config, state: state, logger: logger) { port in
            bound.resolve(.success(port))
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger)
        )
        let task = Task {
            do {
                try await group.run()
                bound.resolve(.failure(SimulatorError(description: "the simulator stopped before listening")))
            } catch {
                bound.resolve(
                    .failure(SimulatorError(description: "cannot listen on 127.0.0.1:\(config.port): \(error)"))
                )
            }
        }
        do {
            let port = try await bound.value()
            return RunningSimulator(port: port, state: state, stopper: Stopper(group: group, task: task))
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
    }

    /// Runs a simulator in the foreground (for `bulkreg sim`) until SIGINT or SIGTERM (a
    /// graceful stop) or the task is cancelled. `onBound` receives the running simulator
    /// once it listens (print its ``RunningSimulator/baseURL`` there).
    public static func run(
        config: SimulatorConfig,
        logger: Logger = Logger(label: "bulkreg.sim"),
        onBound: @escaping @Sendable (RunningSimulator) async -> Void
    ) async throws {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        let app = makeApplication(config: config, state: state, logger: logger) { port in
            await onBound(RunningSimulator(port: port, state: state, stopper: nil))
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await withTaskCancellationHandler {
                try await group.run()
            } onCancel: {
                Task { await group.triggerGracefulShutdown() }
            }
        } catch is CancellationError {
            return
        } catch {
            throw SimulatorError(description: "simulator on 127.0.0.1:\(config.port) failed: \(error)")
        }
    }

    /// The simulator as a `Service`, for a caller that runs its own `ServiceGroup` (and so
    /// owns signal handling). `onBound` receives the simulator once it listens.
    /// - Throws: ``SimulatorError`` for an invalid configuration.
    public static func makeService(
        config: SimulatorConfig,
        logger: Logger = Logger(label: "bulkreg.sim"),
        onBound: @escaping @Sendable (RunningSimulator) async -> Void
    ) throws -> any Service {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        return makeApplication(config: config, state: state, logger: logger) { port in
            await onBound(RunningSimulator(port: port, state: state, stopper: nil))
        }
    }

    private static func makeApplication(
        config: SimulatorConfig,
        state: SimState,
        logger: Logger,
        onPort: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            responder: SimResponder(state: state, config: config),
            configuration: ApplicationConfiguration(
                address: .hostname("127.0.0.1", port: config.port),
                serverName: "bulkreg-sim"
            ),
            onServerRunning: { channel in
                await onPort(channel.localAddress?.port ?? config.port)
            },
            logger: logger
        )
    }
}

/// A simulator started with ``Simulator/start(config:logger:)``.
public struct RunningSimulator: Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    private let state: SimState
    private let stopper: Stopper?

    init(port: Int, state: SimState, stopper: Stopper?) {
        self.port = port
        self.state = state
        self.stopper = stopper
    }

    /// `http://127.0.0.1:PORT`, the `--api-base` to give the client.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The counters so far.
    public func stats() async -> SimulatorStats { await state.snapshot() }

    /// Every stored registration, in registration order.
    public func registrations() async -> [SimRegistration] { await state.allRegistrations() }

    /// Gives every registrant of a schedule (of every schedule when nil) new links, as the
    /// vendor does when a session is edited. Returns how many.
    public func resetLinks(platform: SimPlatform, webinarID: Int, schedule: Int? = nil) async -> Int {
        await state.resetLinks(platform: platform, webinarID: webinarID, schedule: schedule)
    }

    /// Deletes these emails' registrations in a webinar, as the vendor does when a session is
    /// deleted. Returns how many.
    public func deleteRegistrants(
        platform: SimPlatform,
        webinarID: Int,
        schedule: Int? = nil,
        emails: [String]
    ) async
        -> Int
    {
        await state.deleteRegistrants(platform: platform, webinarID: webinarID, schedule: schedule, emails: emails)
    }

    /// Makes the next fault-eligible calls fail with these faults, in order.
    public func injectFaults(_ faults: [SimFault]) async { await state.enqueueFaults(faults) }

    /// The fault settings in force.
    public func faults() async -> SimFaults { await state.currentFaults() }

    /// Replaces the fault settings while the simulator runs (as `POST /__sim/config`).
    /// - Throws: ``SimulatorError`` when the settings are invalid (nothing changes then).
    public func setFaults(_ faults: SimFaults) async throws {
        if let problem = faults.validationError() { throw SimulatorError(description: problem) }
        await state.replaceFaults(faults)
    }

    /// Forgets registrations, counters, rate windows and queued faults.
    public func reset() async { await state.reset() }

    /// Stops listening and waits until the server is down: a graceful stop (answers in
    /// progress are finished), cancelled after 2 s. For a started simulator; a foreground
    /// one stops with its signal or task.
    public func shutdown() async {
        await stopper?.stop()
    }
}

/// Graceful stop of a background simulator.
struct Stopper: Sendable {
    let group: ServiceGroup
    let task: Task<Void, Never>

    func stop() async {
        await group.triggerGracefulShutdown()
        let task = self.task
        let watchdog = Task {
            try await Task.sleep(for: .seconds(2))
            task.cancel()
        }
        await task.value
        watchdog.cancel()
    }
}

/// A simulator configuration or start-up problem, described for the user.
public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public let description: String

    /// Creates an error.
    public init(description: String) {
        self.description = description
    }
}

/// The port handed from the server's start-up callback to ``Simulator/start(config:logger:)``.
private typealias BoundPort = OneShot<Int>

/// A value set once and awaited once; the first ``resolve(_:)`` wins, later ones are ignored.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private var waiter: CheckedContinuation<Value, any Error>?

    func resolve(_ value: Result<Value, any Error>) {
        lock.lock()
        guard result == nil else {
            lock.unlock()
            return
        }
        result = value
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(with: value)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(with: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

/// Request context that keeps the connection's channel, so a fault can close it unanswered.
struct SimRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Thrown after the connection was closed on purpose (the write of a response then fails).
struct ConnectionClosedOnPurpose: Error {}

/// What the HTTP layer writes for an accepted call once its work is done.
enum SimOutcome: Sendable {
    /// Write this answer.
    case answer(SimAnswer)
    /// Close the connection without answering.
    case close
    /// Write this answer padded to `bytes`.
    case oversized(SimAnswer, bytes: Int)
}

/// Runs `work` in an unstructured task, so it completes even if the caller is cancelled (a
/// server may cancel a handler whose connection went away, or at shutdown). The caller waits
/// for the result, or stops waiting with `CancellationError` as soon as it is cancelled.
func runIndependently<T: Sendable>(_ work: @escaping @Sendable () async -> T) async throws -> T {
    let result = OneShot<T>()
    Task { result.resolve(.success(await work())) }
    return try await withTaskCancellationHandler {
        try await result.value()
    } onCancel: {
        result.resolve(.failure(CancellationError()))
    }
}

/// The HTTP face of ``SimState``.
struct SimResponder: HTTPResponder {
    typealias Context = SimRequestContext

    let state: SimState
    let config: SimulatorConfig
    static let maxRequestBody = 1024 * 1024

    func respond(to request: Request, context: SimRequestContext) async throws -> Response {
        let path = request.uri.path
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if components.first == "__sim" {
            return try await admin(request, components: components)
        }
        guard components.count == 2 else {
            return Self.response(.message(404, "Not found"))
        }
        guard request.method == .post else {
            await state.countMethodNotAllowed()
            var response = Self.response(.message(405, "Method Not Allowed"))
            response.headers[.allow] = "POST"
            return response
        }
        var fields = try await Self.readFields(request)
        if fields != nil, let query = request.uri.query, !query.isEmpty {
            fields = FormDecoding.decode(query).merging(fields!) { _, body in body }
        }
        let authority = request.head.authority ?? "127.0.0.1:\(config.port)"
        let url = "http://\(authority)/\(components[0])/\(components[1])"
        switch await state.begin(platform: components[0], method: components[1], fields: fields, url: url) {
        case .answer(let answer):
            return Self.response(answer)
        case .proceed(let ticket):
            let state = self.state
            switch try await runIndependently({ await Self.perform(ticket, state: state) }) {
            case .answer(let answer):
                return Self.response(answer)
            case .close:
                return try await Self.close(context)
            case .oversized(let answer, let bytes):
                return Self.oversized(answer, bytes: bytes)
            }
        }
    }

    /// The work of an accepted call: its delay, its fault, and the method itself.
    static func perform(_ ticket: SimTicket, state: SimState) async -> SimOutcome {
        if ticket.delayMs > 0 {
            try? await Task.sleep(for: .milliseconds(ticket.delayMs))
        }
        if ticket.registrantsDown {
            return .answer(SimPages.proxy(503))
        }
        switch ticket.fault {
        case .serverError:
            return .answer(serverError(ticket.delayMs))
        case .resetBeforeStore:
            return .close
        case .statusError:
            return .answer(.message(200, "The registration could not be completed at this time"))
        case .vendorTrouble:
            return .answer(SimPages.trouble(ticket.variant))
        case .proxyPage where !SimFaults.storingProxyPageStatuses.contains(ticket.variant):
            return .answer(SimPages.proxy(ticket.variant))
        default:
            break
        }
        let answer = await state.execute(ticket)
        switch ticket.fault {
        case .resetAfterStore:
            return .close
        case .garbageBody where answer.status == 200:
            let truncated = String(answer.body.prefix(max(1, answer.body.count / 2)))
            return .answer(SimAnswer(status: 200, contentType: "application/json", body: truncated))
        case .oversizedBody where answer.status == 200:
            return .oversized(answer, bytes: ticket.oversizedBodyBytes)
        case .proxyPage:
            // 504/524: the origin did the work; the gateway had already given up.
            return .answer(SimPages.proxy(ticket.variant))
        default:
            return .answer(answer)
        }
    }

    private func admin(_ request: Request, components: [String]) async throws -> Response {
        let name = components.count == 2 ? components[1] : ""
        switch (request.method, name) {
        case (.get, "stats"):
            return try Self.jsonResponse(await state.snapshot())
        case (.get, "registrations"):
            struct Dump: Encodable { let registrations: [SimRegistration] }
            return try Self.jsonResponse(Dump(registrations: await state.allRegistrations()))
        case (.post, "reset"):
            await state.reset()
            return Self.response(.json(200, .object([("status", .string("success"))])))
        case (.post, "faults"):
            struct Body: Decodable { let faults: [SimFault] }
            let kinds = SimFault.allCases.map(\.rawValue).joined(separator: ", ")
            let body: Body
            switch try await Self.decodeBody(
                Body.self,
                of: request,
                expected: "{\"faults\": [...]} with kinds: \(kinds)"
            ) {
            case .success(let decoded): body = decoded
            case .failure(let refusal): return refusal.response
            }
            await state.enqueueFaults(body.faults)
            return Self.response(
                .json(200, .object([("status", .string("success")), ("queued", .int(body.faults.count))]))
            )
        case (.get, "config"):
            return try Self.jsonResponse(await state.currentFaults())
        case (.post, "config"):
            let faults: SimFaults
            switch try await Self.decodeBody(SimFaults.self, of: request, expected: "a JSON object of fault settings") {
            case .success(let decoded): faults = decoded
            case .failure(let refusal): return refusal.response
            }
            if let problem = faults.validationError() { return Self.response(.message(400, problem)) }
            await state.replaceFaults(faults)
            return try Self.jsonResponse(faults)
        case (.post, "reset-links"), (.post, "delete-registrants"):
            struct Body: Decodable {
                let platform: SimPlatform
                let webinarID: Int
                let schedule: Int?
                let emails: [String]?
                enum CodingKeys: String, CodingKey {
                    case platform, schedule, emails
                    case webinarID = "webinar_id"
                }
            }
            let body: Body
            let expected = "{\"platform\": …, \"webinar_id\": …, \"schedule\": …, \"emails\": [...]}"
            switch try await Self.decodeBody(Body.self, of: request, expected: expected) {
            case .success(let decoded): body = decoded
            case .failure(let refusal): return refusal.response
            }
            let count: Int
            if name == "reset-links" {
                count = await state.resetLinks(
                    platform: body.platform,
                    webinarID: body.webinarID,
                    schedule: body.schedule
                )
            } else {
                count = await state.deleteRegistrants(
                    platform: body.platform,
                    webinarID: body.webinarID,
                    schedule: body.schedule,
                    emails: body.emails ?? []
                )
            }
            return Self.response(.json(200, .object([("status", .string("success")), ("count", .int(count))])))
        case (_, "stats"), (_, "registrations"), (_, "reset"), (_, "faults"), (_, "config"), (_, "reset-links"),
            (_, "delete-registrants"):
            return Self.response(.message(405, "Method Not Allowed"))
        default:
            return Self.response(.message(404, "Not found"))
        }
    }

    /// A request's body (Hummingbird's `collectBody(upTo:)`), nil when it is over
    /// ``maxRequestBody``.
    static func body(_ request: Request) async throws -> [UInt8]? {
        var request = request
        do {
            return Array(buffer: try await request.collectBody(upTo: maxRequestBody))
        } catch is NIOTooManyBytesError {
            return nil
        }
    }

    /// An admin request's refused body: the answer that says why.
    struct Refusal: Error {
        let response: Response
    }

    /// An admin request's JSON body, or its refusal: 413 over ``maxRequestBody``, 400 naming
    /// what was `expected` and what the decoder found wrong.
    static func decodeBody<Body: Decodable>(
        _ type: Body.Type,
        of request: Request,
        expected: String
    ) async throws -> Result<Body, Refusal> {
        guard let bytes = try await body(request) else {
            return .failure(Refusal(response: response(.message(413, "Body too large"))))
        }
        do {
            return .success(try JSONDecoder().decode(Body.self, from: Data(bytes)))
        } catch {
            let problem = DecodingProblem.describe(error)
            return .failure(Refusal(response: response(.message(400, "expected \(expected): \(problem)"))))
        }
    }

    /// A JSON answer of `value`, its keys sorted.
    static func jsonResponse(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return response(
            SimAnswer(status: 200, contentType: "application/json", body: String(decoding: data, as: UTF8.self))
        )
    }

    /// Form-urlencoded or JSON fields; nil when the body is too large or unparsable.
    static func readFields(_ request: Request) async throws -> [String: String]? {
        guard let bytes = try await body(request) else { return nil }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let firstNonSpace = bytes.first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
        if contentType.contains("json") || firstNonSpace == UInt8(ascii: "{") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                return nil
            }
            var fields: [String: String] = [:]
            for (key, value) in object {
                switch value {
                case let text as String: fields[key] = text
                case let number as NSNumber: fields[key] = number.stringValue
                case let list as [Any]:
                    fields[key] = list.map { ($0 as? String) ?? ($0 as? NSNumber)?.stringValue ?? "" }
                        .joined(separator: String(FormDecoding.listSeparator))
                default: continue
                }
            }
            return fields
        }
        return FormDecoding.decode(String(decoding: bytes, as: UTF8.self))
    }

    static func response(_ answer: SimAnswer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body))
        )
    }

    /// A 5xx of the application or its proxy; `seed` (the call's delay) picks the shape.
    static func serverError(_ seed: Int) -> SimAnswer {
        switch seed % 3 {
        case 0:
            return SimAnswer(
                status: 500,
                contentType: "text/html",
                body: "<html><body><h1>500 Internal Server Error</h1></body></html>"
            )
        case 1:
            return .message(503, "Service temporarily unavailable")
        default:
            return SimAnswer(status: 502, contentType: "text/html", body: "<html><body>502 Bad Gateway</body></html>")
        }
    }

    /// Closes the connection without answering; the response write that follows fails.
    static func close(_ context: SimRequestContext) async throws -> Response {
        try? await context.channel.close()
        throw ConnectionClosedOnPurpose()
    }

    static func oversized(_ answer: SimAnswer, bytes: Int) -> Response {
        var body = answer.body
        if body.hasSuffix("}") { body.removeLast() }
        let prefix = body + ",\"padding\":\""
        let suffix = "\"}"
        let padding = max(0, bytes - prefix.utf8.count - suffix.utf8.count)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let chunk = 64 * 1024
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody(contentLength: prefix.utf8.count + padding + suffix.utf8.count) { writer in
                try await writer.write(ByteBuffer(string: prefix))
                var remaining = padding
                let block = ByteBuffer(repeating: UInt8(ascii: "x"), count: chunk)
                while remaining > 0 {
                    let size = min(chunk, remaining)
                    try await writer.write(
                        size == chunk ? block : ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
                    )
                    remaining -= size
                }
                try await writer.write(ByteBuffer(string: suffix))
                try await writer.finish(nil)
            }
        )
    }
}

/// `application/x-www-form-urlencoded` parsing (`+` is a space, `%XX` a byte).
enum FormDecoding {
    /// Joins the values of a repeated `NAME[]` field in the decoded fields (a control
    /// character no value holds).
    static let listSeparator: Character = "\u{1F}"

    /// The values of a multi-valued field as decoded.
    static func values(_ field: String?) -> [String] {
        guard let field, !field.isEmpty else { return [] }
        return field.split(separator: listSeparator, omittingEmptySubsequences: false).map(String.init)
    }

    /// The form's fields; a repeated `NAME[]` keeps every value (``values(_:)``), any other
    /// repeated name its last, as PHP does.
    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = unescape(parts[0])
            let value = parts.count > 1 ? unescape(parts[1]) : ""
            guard !name.isEmpty else { continue }
            if name.hasSuffix("[]"), let earlier = fields[name] {
                fields[name] = earlier + String(listSeparator) + value
            } else {
                fields[name] = value
            }
        }
        return fields
    }

    static func unescape(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let high = hex(iterator[iterator.startIndex]), let low = hex(iterator[iterator.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
