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
/// - `POST /__sim/reset`: forget registrations, counters, rate windows and queued faults.
/// - `POST /__sim/faults` with `{"faults": ["resetAfterStore", …]}`: the next fault-eligible
///   calls get these faults, in order, before any random draw.
///
/// Any HTTP method but POST on an API path answers 405 (`Allow: POST`).
public enum Simulator {
    /// Starts a simulator in the background and returns once it listens.
    /// - Throws: ``SimulatorError`` for an invalid configuration or a port that cannot be bound.
    public static func start(config: SimulatorConfig, logger: Logger = Logger(label: "bulkreg.sim"))
        async throws -> RunningSimulator
    {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        let bound = BoundPort()
        let app = makeApplication(config: config, state: state, logger: logger) { port in
            bound.resolve(.success(port))
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await group.run()
                bound.resolve(.failure(SimulatorError(description: "the simulator stopped before listening")))
            } catch {
                bound.resolve(
                    .failure(SimulatorError(description: "cannot listen on 127.0.0.1:\(config.port): \(error)")))
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
        config: SimulatorConfig, logger: Logger = Logger(label: "bulkreg.sim"),
        onBound: @escaping @Sendable (RunningSimulator) async -> Void
    ) async throws {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        let app = makeApplication(config: config, state: state, logger: logger) { port in
            await onBound(RunningSimulator(port: port, state: state, stopper: nil))
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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
        config: SimulatorConfig, logger: Logger = Logger(label: "bulkreg.sim"),
        onBound: @escaping @Sendable (RunningSimulator) async -> Void
    ) throws -> any Service {
        if let problem = config.validationError() { throw SimulatorError(description: problem) }
        let state = SimState(config: config)
        return makeApplication(config: config, state: state, logger: logger) { port in
            await onBound(RunningSimulator(port: port, state: state, stopper: nil))
        }
    }

    private static func makeApplication(
        config: SimulatorConfig, state: SimState, logger: Logger,
        onPort: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            responder: SimResponder(state: state, config: config),
            configuration: ApplicationConfiguration(
                address: .hostname("127.0.0.1", port: config.port), serverName: "bulkreg-sim"),
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

    /// Makes the next fault-eligible calls fail with these faults, in order.
    public func injectFaults(_ faults: [SimFault]) async { await state.enqueueFaults(faults) }

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

/// A one-shot value handed from the server's start-up callback to ``Simulator/start(config:logger:)``.
private final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Int, any Error>?
    private var waiter: CheckedContinuation<Int, any Error>?

    func resolve(_ value: Result<Int, any Error>) {
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

    func value() async throws -> Int {
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
        let fields = try await Self.readFields(request)
        switch await state.begin(platform: components[0], method: components[1], fields: fields) {
        case .answer(let answer):
            return Self.response(answer)
        case .proceed(let ticket):
            if ticket.delayMs > 0 {
                try? await Task.sleep(for: .milliseconds(ticket.delayMs))
            }
            switch ticket.fault {
            case .serverError:
                return Self.serverError(ticket.delayMs)
            case .resetBeforeStore:
                return try await Self.close(context)
            case .statusError:
                return Self.response(.message(200, "The registration could not be completed at this time"))
            default:
                break
            }
            let answer = await state.execute(ticket)
            switch ticket.fault {
            case .resetAfterStore:
                return try await Self.close(context)
            case .garbageBody where answer.status == 200:
                let truncated = String(answer.body.prefix(max(1, answer.body.count / 2)))
                return Self.response(SimAnswer(status: 200, contentType: "application/json", body: truncated))
            case .oversizedBody where answer.status == 200:
                return Self.oversized(answer, bytes: config.faults.oversizedBodyBytes)
            default:
                return Self.response(answer)
            }
        }
    }

    private func admin(_ request: Request, components: [String]) async throws -> Response {
        let name = components.count == 2 ? components[1] : ""
        switch (request.method, name) {
        case (.get, "stats"):
            let stats = await state.snapshot()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(stats)
            return Self.response(
                SimAnswer(status: 200, contentType: "application/json", body: String(decoding: data, as: UTF8.self)))
        case (.get, "registrations"):
            struct Dump: Encodable { let registrations: [SimRegistration] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(Dump(registrations: await state.allRegistrations()))
            return Self.response(
                SimAnswer(status: 200, contentType: "application/json", body: String(decoding: data, as: UTF8.self)))
        case (.post, "reset"):
            await state.reset()
            return Self.response(.json(200, .object([("status", .string("success"))])))
        case (.post, "faults"):
            struct Body: Decodable { let faults: [SimFault] }
            var bytes: [UInt8] = []
            for try await chunk in request.body {
                bytes.append(contentsOf: chunk.readableBytesView)
                if bytes.count > Self.maxRequestBody { return Self.response(.message(413, "Body too large")) }
            }
            guard let body = try? JSONDecoder().decode(Body.self, from: Data(bytes)) else {
                let kinds = SimFault.allCases.map(\.rawValue).joined(separator: ", ")
                return Self.response(.message(400, "expected {\"faults\": [...]} with kinds: \(kinds)"))
            }
            await state.enqueueFaults(body.faults)
            return Self.response(.json(200, .object([("status", .string("success")), ("queued", .int(body.faults.count))])))
        case (_, "stats"), (_, "registrations"), (_, "reset"), (_, "faults"):
            return Self.response(.message(405, "Method Not Allowed"))
        default:
            return Self.response(.message(404, "Not found"))
        }
    }

    /// Form-urlencoded or JSON fields; nil when the body is too large or unparsable.
    static func readFields(_ request: Request) async throws -> [String: String]? {
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            bytes.append(contentsOf: chunk.readableBytesView)
            if bytes.count > maxRequestBody { return nil }
        }
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

    static func serverError(_ seed: Int) -> Response {
        switch seed % 3 {
        case 0:
            return response(
                SimAnswer(
                    status: 500, contentType: "text/html",
                    body: "<html><body><h1>500 Internal Server Error</h1></body></html>"))
        case 1:
            return response(.message(503, "Service temporarily unavailable"))
        default:
            return response(
                SimAnswer(status: 502, contentType: "text/html", body: "<html><body>502 Bad Gateway</body></html>"))
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
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: prefix.utf8.count + padding + suffix.utf8.count) { writer in
                try await writer.write(ByteBuffer(string: prefix))
                var remaining = padding
                let block = ByteBuffer(repeating: UInt8(ascii: "x"), count: chunk)
                while remaining > 0 {
                    let size = min(chunk, remaining)
                    try await writer.write(size == chunk ? block : ByteBuffer(repeating: UInt8(ascii: "x"), count: size))
                    remaining -= size
                }
                try await writer.write(ByteBuffer(string: suffix))
                try await writer.finish(nil)
            })
    }
}

/// `application/x-www-form-urlencoded` parsing (`+` is a space, `%XX` a byte).
enum FormDecoding {
    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = unescape(parts[0])
            let value = parts.count > 1 ? unescape(parts[1]) : ""
            if !name.isEmpty { fields[name] = value }
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
