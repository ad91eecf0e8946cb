import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import WebinarSim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw answer from the simulator.
struct RawAnswer {
    var status: Int
    var headers: [(String, String)]
    var body: String

    /// The body as a JSON object (fails the test when it is not one).
    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return try #require(object, "not a JSON object: \(body)", sourceLocation: sourceLocation)
    }

    /// The body's `user` object (fails the test when there is none).
    func user(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let user = try json(sourceLocation: sourceLocation)["user"] as? [String: Any]
        return try #require(user, "no user object: \(body)", sourceLocation: sourceLocation)
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// Starts a simulator and an HTTP client, runs `body`, then shuts both down.
func withSimulator(
    _ config: SimulatorConfig = SimulatorConfig(),
    _ body: (RunningSimulator, SimClient) async throws -> Void
) async throws {
    let sim = try await Simulator.start(config: config)
    let client = SimClient(base: sim.baseURL)
    do {
        try await body(sim, client)
    } catch {
        try? await client.http.shutdown()
        await sim.shutdown()
        throw error
    }
    try await client.http.shutdown()
    await sim.shutdown()
}

/// Minimal raw client of the simulator (independent of the WebinarAPI module).
struct SimClient {
    let base: String
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    static let key = "test-key-0123456789"

    /// POSTs a form body (`api_key` added unless `key` is nil).
    func post(
        _ path: String,
        _ fields: [(String, String)] = [],
        key: String? = SimClient.key,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> RawAnswer {
        var all = fields
        if let key { all.insert(("api_key", key), at: 0) }
        let body = all.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
        return try await send(
            path,
            method: .POST,
            body: body,
            contentType: "application/x-www-form-urlencoded",
            timeout: timeout
        )
    }

    /// POSTs a JSON body.
    func postJSON(_ path: String, _ json: String) async throws -> RawAnswer {
        try await send(path, method: .POST, body: json, contentType: "application/json")
    }

    /// Sends a request; `path` may also be a whole URL (a `next_page_url`).
    func send(
        _ path: String,
        method: HTTPMethod,
        body: String? = nil,
        contentType: String? = nil,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> RawAnswer {
        var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : base + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(Array(body.utf8)) }
        let response = try await http.execute(request, timeout: timeout)
        let buffer = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return RawAnswer(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: String(buffer: buffer)
        )
    }

    /// Registers one person into webinar 5 schedule 34 (WebinarJam) unless told otherwise.
    func register(
        email: String,
        platform: String = "webinarjam",
        webinar: Int = 5,
        schedule: Int = 34,
        extra: [(String, String)] = [],
        timeout: TimeAmount = .seconds(10)
    ) async throws -> RawAnswer {
        try await post(
            "/\(platform)/register",
            [
                ("webinar_id", String(webinar)), ("first_name", "Ann"), ("last_name", "Lee"), ("email", email),
                ("schedule", String(schedule)),
            ] + extra,
            timeout: timeout
        )
    }

    /// POSTs `value` to `/__sim/config`.
    func setFaults(_ json: String) async throws -> RawAnswer {
        try await send("/__sim/config", method: .POST, body: json, contentType: "application/json")
    }
}

/// WHATWG form encoding for the tests' own requests.
func formEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"):
            out.append(Character(UnicodeScalar(byte)))
        case UInt8(ascii: " "):
            out.append("+")
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

/// Sends `request` (raw HTTP/1.1) to 127.0.0.1:`port` over a plain socket, then closes the
/// socket at once without reading: a client that gives up and closes the connection.
func sendThenClose(port: Int, request: String) throws {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw SimulatorError(description: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw SimulatorError(description: "connect() failed") }
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let written = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard written > 0 else { throw SimulatorError(description: "send() failed") }
        sent += written
    }
}

/// A raw form POST to `path` (with `Connection: keep-alive`), as `sendThenClose` sends it.
func rawFormPost(_ path: String, _ fields: [(String, String)]) -> String {
    let body = fields.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
    return "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
}
