import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The vendor API over HTTPS, built on AsyncHTTPClient.
///
/// Every call is a `POST {base}/{platform}/{method}` with a form-urlencoded body carrying the
/// key as `api_key`; every outcome is a `Result` whose failure is one ``APIFailure``, judged by
/// what the answer proves (the table is on `AnswerParser.classify`): rate limited in any
/// envelope, a refused key, the request at fault (only when the answer names it), unexplained,
/// busy (the vendor did nothing), timed out, or transient (may have reached the vendor unless
/// the request certainly never left).
///
/// The API key is held privately and never appears in an error, a log line, `description`,
/// `debugDescription` or a mirror of this value.
public struct HTTPWebinarAPI: WebinarAPI, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The vendor's endpoint.
    public static let defaultBaseURL = "https://api.webinarjam.com"
    /// Default time allowed to establish a connection (TCP + TLS).
    public static let defaultConnectTimeout: Duration = .seconds(10)
    /// Default time allowed for a whole call, from sending to the last byte of the answer.
    public static let defaultRequestTimeout: Duration = .seconds(30)
    /// Default cap on an answer's body (4 MiB); a bigger body is a transient failure.
    public static let defaultMaxResponseBodyBytes = 4 * 1024 * 1024

    /// The validated base URL, without trailing `/`.
    public let baseURL: String
    /// Time allowed for a whole call; the runner waits this long before asking `registrants`
    /// about a call whose answer it never saw.
    public let requestTimeout: Duration
    /// Connect timeout of the owned client (ignored for a shared client, which has its own).
    public let connectTimeout: Duration
    /// Cap on an answer's body.
    public let maxResponseBodyBytes: Int

    private let apiKey: APIKey
    private let client: HTTPClient
    /// Told when the next request built leaves (``SendObserving``).
    private let nextSend = SendHook()
    private let ownsClient: Bool
    private let logger: Logger

    /// Creates a client.
    /// - Parameters:
    ///   - baseURL: checked with ``validateBaseURL(_:)`` (HTTPS, or HTTP to loopback only).
    ///   - apiKey: the account's key; kept private.
    ///   - connectTimeout: applied when this value creates its own `HTTPClient`.
    ///   - requestTimeout: deadline of each call, answer body included.
    ///   - maxResponseBodyBytes: a bigger answer is `.transient("response too large")`.
    ///   - httpClient: a shared client (its TLS settings are used as they are; certificate
    ///     verification is never turned off here). When nil, one is created and must be
    ///     released with ``shutdown()``.
    ///   - maxConnections: the owned client's connection pool (one connection per call in
    ///     flight: the runner passes its most calls in flight).
    ///   - logger: receives one debug line per call (method, platform, status, duration),
    ///     never the key nor personal data.
    /// - Throws: ``BaseURLError`` for an unacceptable base URL.
    public init(
        baseURL: String = HTTPWebinarAPI.defaultBaseURL,
        apiKey: String,
        connectTimeout: Duration = HTTPWebinarAPI.defaultConnectTimeout,
        requestTimeout: Duration = HTTPWebinarAPI.defaultRequestTimeout,
        maxResponseBodyBytes: Int = HTTPWebinarAPI.defaultMaxResponseBodyBytes,
        httpClient: HTTPClient? = nil,
        maxConnections: Int = 64,
        logger: Logger = Logger(label: "bulkreg.api")
    ) throws(BaseURLError) {
        self.baseURL = try Self.validateBaseURL(baseURL)
        self.apiKey = APIKey(value: apiKey)
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxResponseBodyBytes = max(1024, maxResponseBodyBytes)
        self.logger = logger
        if let httpClient {
            self.client = httpClient
            self.ownsClient = false
        } else {
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: TimeAmount(connectTimeout), read: TimeAmount(requestTimeout))
            )
            configuration.httpVersion = .http1Only
            // A refused connection fails the call at once (the runner retries with backoff)
            // instead of being retried silently until the deadline.
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maxConnections)
            self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            self.ownsClient = true
        }
    }

    /// Shuts the owned `HTTPClient` down; does nothing for a shared one. Call once, at the end.
    public func shutdown() async throws {
        if ownsClient { try await client.shutdown() }
    }

    /// `HTTPWebinarAPI(https://api.webinarjam.com)`: the key is never shown.
    public var description: String { "HTTPWebinarAPI(\(baseURL))" }
    /// Same as ``description``, plus timeouts; the key is never shown.
    public var debugDescription: String {
        "HTTPWebinarAPI(baseURL: \(baseURL), apiKey: [redacted], requestTimeout: \(requestTimeout), maxResponseBodyBytes: \(maxResponseBodyBytes))"
    }
    /// A mirror without the key, so `dump()` and reflection-based printers cannot leak it.
    public var customMirror: Mirror {
        Mirror(self, children: ["baseURL": baseURL, "apiKey": "[redacted]"], displayStyle: .struct)
    }

    // MARK: WebinarAPI

    /// `webinars`: every published webinar of the platform (schedules as display strings).
    public func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> {
        await call(platform: platform, method: "webinars", fields: []) { status, body, secret in
            AnswerParser.webinars(status: status, body: body, secret: secret)
        }
    }

    /// `webinar`: one webinar with its schedules as `{date, schedule, comment}`. `timezone`
    /// (EverWebinar, `GMT-5`) is sent only when non-empty.
    public func webinar(
        platform: Platform,
        webinarID: Int,
        timezone: String?
    ) async
        -> Result<WebinarDetail, APIFailure>
    {
        var fields = [("webinar_id", String(webinarID))]
        if let timezone, !timezone.isEmpty { fields.append(("timezone", timezone)) }
        return await call(platform: platform, method: "webinar", fields: fields) { status, body, secret in
            AnswerParser.webinar(status: status, body: body, secret: secret)
        }
    }

    /// `register`: one person; see ``formFields(for:)`` for what is sent.
    public func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure> {
        let fields = Self.formFields(for: request)
        let names = fields.map(\.0)
        return await call(platform: request.platform, method: "register", fields: fields) {
            status,
            body,
            secret in
            AnswerParser.register(status: status, body: body, secret: secret, sentFields: names)
        }
    }

    /// `registrants`: one page of a webinar's registrants, optionally by schedule and search.
    public func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure> {
        await call(platform: query.platform, method: "registrants", fields: Self.formFields(for: query)) {
            status,
            body,
            secret in
            AnswerParser.registrants(status: status, body: body, secret: secret)
        }
    }

    // MARK: Request building

    /// The form fields of a `register` call, in a stable order, without `api_key`:
    /// `webinar_id, first_name, last_name?, email, schedule, ip_address?, phone_country_code?,
    /// phone?`, then for EverWebinar `timezone?, date?`, then `extraFields` sorted by name,
    /// then each of `multiFields` (sorted by name) as repeated `NAME[]=VALUE` pairs.
    /// Optional fields are sent only when non-empty. Extra fields never override the
    /// fields above nor `api_key`, also as PHP reads names (`first name` and `email[]` are
    /// `first_name` and `email` there).
    public static func formFields(for request: RegistrationRequest) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("webinar_id", String(request.webinarID)),
            ("first_name", request.firstName),
        ]
        func optional(_ name: String, _ value: String?) {
            if let value, !value.isEmpty { fields.append((name, value)) }
        }
        optional("last_name", request.lastName)
        fields.append(("email", request.email))
        fields.append(("schedule", String(request.schedule)))
        optional("ip_address", request.ipAddress)
        optional("phone_country_code", request.phoneCountryCode)
        optional("phone", request.phone)
        if request.platform == .everwebinar {
            optional("timezone", request.timezone)
            optional("date", request.date)
        }
        let reserved = Set(fields.map(\.0)).union(["api_key", "timezone", "date"])
        func allowed(_ name: String) -> Bool { !name.isEmpty && !reserved.contains(phpName(name)) }
        for name in request.extraFields.keys.sorted() where allowed(name) {
            optional(name, request.extraFields[name])
        }
        for name in request.multiFields.keys.sorted() where allowed(name) {
            for value in request.multiFields[name] ?? [] where !value.isEmpty { fields.append((name, value)) }
        }
        return fields
    }

    /// The variable name PHP makes of a form field's name: leading spaces dropped, `[…]` and
    /// what follows gone, spaces and dots turned to `_`.
    static func phpName(_ name: String) -> String {
        var base = Substring(name).drop { $0 == " " }
        if let bracket = base.firstIndex(of: "["), bracket != base.startIndex { base = base[..<bracket] }
        return String(base.map { $0 == " " || $0 == "." ? "_" : $0 })
    }

    /// The form fields of a `registrants` call, without `api_key`.
    public static func formFields(for query: RegistrantsQuery) -> [(String, String)] {
        var fields = [("webinar_id", String(query.webinarID))]
        if let schedule = query.scheduleID { fields.append(("schedule_id", String(schedule))) }
        if let search = query.search, !search.isEmpty { fields.append(("search", search)) }
        fields.append(("page", String(max(1, query.page))))
        return fields
    }

    // MARK: Transport

    private func call<T>(
        platform: Platform,
        method: String,
        fields: [(String, String)],
        parse: @Sendable (Int, [UInt8], String?) -> Result<T, APIFailure>
    ) async -> Result<T, APIFailure> {
        let url = "\(baseURL)/\(platform.rawValue)/\(method)"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "bulkreg")
        let body = Array(FormEncoding.encode([("api_key", apiKey.value)] + fields).utf8)
        if let onSend = nextSend.take() {
            // Pulled by the connection once the request head is on its way: the send instant.
            request.body = .stream(NotifyingBody(bytes: body, onSend: onSend), length: .known(Int64(body.count)))
        } else {
            request.body = .bytes(body)
        }
        let prepared = request

        let start = ContinuousClock.now
        let deadline = start + requestTimeout
        let outcome: Result<T, APIFailure>
        var statusForLog: Int?
        do {
            let (status, bytes) = try await withDeadline(deadline) {
                let response = try await client.execute(
                    prepared,
                    deadline: NIODeadline.now() + TimeAmount(requestTimeout),
                    logger: nil
                )
                let status = Int(response.status.code)
                if let declared = response.headers.first(name: "Content-Length").flatMap(Int.init),
                    declared > maxResponseBodyBytes
                {
                    throw ResponseTooLarge(limit: maxResponseBodyBytes)
                }
                var collected: [UInt8] = []
                for try await chunk in response.body {
                    if collected.count + chunk.readableBytes > maxResponseBodyBytes {
                        throw ResponseTooLarge(limit: maxResponseBodyBytes)
                    }
                    collected.append(contentsOf: chunk.readableBytesView)
                }
                return (status, collected)
            }
            statusForLog = status
            outcome = parse(status, bytes, apiKey.value)
        } catch {
            outcome = .failure(Self.failure(forTransportError: error, secret: apiKey.value))
        }
        let elapsed = ContinuousClock.now - start
        logger.debug(
            "API call",
            metadata: [
                "api.platform": "\(platform.rawValue)",
                "api.method": "\(method)",
                "api.status": "\(statusForLog.map(String.init) ?? "-")",
                "api.outcome": "\(Self.outcomeLabel(outcome))",
                "api.ms": "\(Int64(elapsed / .milliseconds(1)))",
            ]
        )
        return outcome
    }

    private static func outcomeLabel<T>(_ outcome: Result<T, APIFailure>) -> String {
        switch outcome {
        case .success: return "success"
        case .failure(.rateLimited): return "rate-limited"
        case .failure(.unauthorized): return "unauthorized"
        case .failure(.rejected): return "rejected"
        case .failure(.unexplained): return "unexplained"
        case .failure(.busy): return "busy"
        case .failure(.timedOut): return "timed-out"
        case .failure(.transient): return "transient"
        }
    }

    /// Runs `work`, failing with ``CallDeadlineExceeded`` at `deadline` (covers the body too,
    /// which AsyncHTTPClient's own deadline does not).
    private func withDeadline<R: Sendable>(
        _ deadline: ContinuousClock.Instant,
        _ work: @escaping @Sendable () async throws -> R
    ) async throws -> R {
        try await withThrowingTaskGroup(of: R.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw CallDeadlineExceeded()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CallDeadlineExceeded() }
            return first
        }
    }

    // MARK: Transport error classification

    /// Maps a thrown error to a transient failure, deciding whether the request may have
    /// reached the vendor. `false` only when the connection certainly never carried the
    /// request: refused, unreachable, DNS failure, connect or TLS-handshake failure or
    /// timeout, no pooled connection before the deadline. Anything else (read timeout,
    /// deadline, reset or close after sending, unknown errors) is `true`: the runner then
    /// asks `registrants` before sending again.
    static func failure(forTransportError error: any Error, secret: String?) -> APIFailure {
        let (reason, reached) = describeTransportError(error)
        if reached, isTimeout(error) {
            return .timedOut(reason: ErrorMessage.clean(reason, secret: secret))
        }
        return .transient(reason: ErrorMessage.clean(reason, secret: secret), mayHaveReachedVendor: reached)
    }

    /// A deadline passed after the request may have been written (not a connect timeout).
    private static func isTimeout(_ error: any Error) -> Bool {
        if error is CallDeadlineExceeded { return true }
        if let error = error as? HTTPClientError {
            return error == .readTimeout || error == .deadlineExceeded || error == .writeTimeout
        }
        if let error = error as? IOError { return error.errnoCode == ETIMEDOUT }
        return false
    }

    private static func describeTransportError(_ error: any Error) -> (String, Bool) {
        if error is ResponseTooLarge {
            return ("response too large (over \((error as! ResponseTooLarge).limit) bytes)", true)
        }
        if error is CallDeadlineExceeded {
            return ("request timeout: no complete answer before the deadline", true)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout:
                return ("connect timeout", false)
            case .tlsHandshakeTimeout:
                return ("TLS handshake timeout", false)
            case .socksHandshakeTimeout, .httpProxyHandshakeTimeout:
                return ("proxy handshake timeout", false)
            case .getConnectionFromPoolTimeout:
                return ("no connection available before the deadline", false)
            case .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown:
                return ("cannot send: \(error)", false)
            case .readTimeout:
                return ("read timeout", true)
            case .writeTimeout:
                return ("write timeout", true)
            case .deadlineExceeded:
                return ("request timeout (deadline exceeded)", true)
            case .remoteConnectionClosed:
                return ("connection closed by the server before an answer", true)
            case .cancelled:
                return ("call cancelled", true)
            default:
                return ("HTTP client error: \(error)", true)
            }
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout:
                return ("connect timeout", false)
            default:
                return ("connection error: \(error)", true)
            }
        }
        if let error = error as? IOError {
            return describe(errno: error.errnoCode, text: "\(error)")
        }
        if error is CancellationError {
            return ("call cancelled", true)
        }
        if let error = error as? NIOConnectionError {
            // Every address failed to connect, or DNS gave none: nothing was sent.
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return ("connection refused", false)
            }
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                return ("DNS failure: cannot resolve \(error.host)", false)
            }
            return ("cannot connect: \(error)", false)
        }
        if let error = error as? NIOSSLError {
            // Only a failed handshake proves the request never left: the request is written
            // after it. Anything later (an unclean close, a bad record) may follow the write.
            switch error {
            case .handshakeFailed, .unableToValidateCertificate, .noCertificateToValidate, .failedToLoadCertificate,
                .cannotMatchULabel:
                return ("TLS handshake failure: \(error)", false)
            case .uncleanShutdown:
                return ("TLS connection closed uncleanly", true)
            default:
                return ("TLS error: \(error)", true)
            }
        }
        if let error = error as? BoringSSLError {
            if case .invalidSNIName = error { return ("TLS handshake failure: \(error)", false) }
            return ("TLS error: \(error)", true)
        }
        if let error = error as? SocketAddressError {
            return ("DNS failure: \(error)", false)
        }
        return ("transport error: \(String(reflecting: type(of: error))): \(error)", true)
    }

    private static func describe(errno code: Int32, text: String) -> (String, Bool) {
        switch code {
        case ECONNREFUSED: return ("connection refused", false)
        // A bare errno comes from an open connection (connect failures arrive wrapped in
        // NIOConnectionError): the request may already have been written.
        case ENETUNREACH, EHOSTUNREACH: return ("network unreachable on an open connection", true)
        case EADDRNOTAVAIL: return ("address not available", false)
        case ECONNRESET: return ("connection reset by peer", true)
        case EPIPE: return ("broken pipe (connection closed while sending)", true)
        case ETIMEDOUT: return ("connection timed out", true)
        default: return ("I/O error: \(text)", true)
        }
    }
}

/// The key, kept out of every rendering.
private struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let value: String
    var description: String { "[redacted]" }
    var debugDescription: String { "[redacted]" }
    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The answer body exceeded ``HTTPWebinarAPI/maxResponseBodyBytes``.
struct ResponseTooLarge: Error {
    let limit: Int
}

/// The whole call exceeded ``HTTPWebinarAPI/requestTimeout``.
struct CallDeadlineExceeded: Error {}

extension HTTPWebinarAPI: SendObserving {
    public func observeNextSend(_ observer: @escaping @Sendable () -> Void) {
        nextSend.set(observer)
    }
}

/// The observer of the next request (shared by the copies of one ``HTTPWebinarAPI``).
final class SendHook: Sendable {
    private let observer = Mutex<(@Sendable () -> Void)?>(nil)

    func set(_ value: @escaping @Sendable () -> Void) { observer.withLock { $0 = value } }

    func take() -> (@Sendable () -> Void)? {
        observer.withLock { value in
            defer { value = nil }
            return value
        }
    }
}

/// A request body of one buffer that says when it is first read.
struct NotifyingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    let onSend: @Sendable () -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        var bytes: [UInt8]?
        let onSend: @Sendable () -> Void

        mutating func next() async -> ByteBuffer? {
            guard let bytes else { return nil }
            self.bytes = nil
            onSend()
            return ByteBuffer(bytes: bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, onSend: onSend) }
}
