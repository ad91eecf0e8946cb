import Foundation
import Synchronization
import TestSupport
import Testing
import WebinarSim

#if canImport(Glibc)
import Glibc
#endif

private let apiKey = "e2e-network-key-0123456789"

/// Network faults beyond the simulator's switches, through the binary: the API host down for a
/// while, a name that does not resolve, a TLS endpoint whose certificate fails, a 100 MB answer.
@Suite("Network faults, through the binary", .serialized)
struct NetworkFaultTests {
    @Test("the API host refuses connections for a while: the run pauses, says so, and finishes when it is back")
    func outageThenBack() async throws {
        let ws = try await workspace(leads: 30)
        let port = try freeLoopbackPort()
        let (process, stdout, stderr) = try launchCollected(
            ["run", "--db", ws.db, "--api-base", "http://127.0.0.1:\(port)", "--request-timeout", "2"],
            env: ["WEBINARJAM_API_KEY": apiKey]
        )
        // The line appears as soon as the outage begins (not at the next 10 s tick).
        #expect(await waitUntil(.seconds(20)) { stderr.text.contains("API unreachable for") }, "\(stderr.text)")
        #expect(stderr.text.contains("connection refused), next try in"), "\(stderr.text)")
        // Let it stay down across a few pauses, then bring the API up on that port.
        try await Task.sleep(for: .seconds(6))
        #expect(process.isRunning)
        let sim = try await Simulator.start(config: SimulatorConfig(port: port))
        let finished = await waitUntil(.seconds(90)) { !process.isRunning }
        if !finished { process.terminate() }
        process.waitUntilExit()
        let stats = await sim.stats()
        let registrations = await sim.registrations()
        await sim.shutdown()
        #expect(finished)
        #expect(process.terminationStatus == 0, "\(stdout.text) \(stderr.text)")
        #expect(stderr.text.contains("API reachable again"), "\(stderr.text)")
        #expect(registrations.count == 30 && stats.duplicates == 0)
        let export = try await bulkreg(["export", "-", "--db", ws.db])
        let rows = csvRows(export.stdout)
        let attempts = try #require(rows.first?.firstIndex(of: "attempts"))
        // Counted from the end: the error column before it may hold quoted commas.
        let fromEnd = rows[0].count - attempts
        #expect(rows.dropFirst().allSatisfy { $0[$0.count - fromEnd] == "1" }, "no attempt was spent on the outage")
    }

    @Test("a host name that does not resolve: the run pauses and says why; SIGINT leaves every job queued")
    func dnsFailure() async throws {
        // Here (a resolver that answers NXDOMAIN at once) the line reads `DNS failure: cannot
        // resolve bulkreg-test.invalid`; a machine whose resolver times out shows a timeout.
        try await pausesAndStops(apiBase: "https://bulkreg-test.invalid", expect: "API unreachable for")
    }

    @Test(
        "a TLS endpoint with an untrusted certificate: never accepted (checks are never disabled); the run pauses and says why",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command")
    )
    func tlsFailure() async throws {
        let ws = Workspace.e2e()
        let port = try freeLoopbackPort()
        let cert = ws.file("cert.pem")
        let keyFile = ws.file("key.pem")
        let made = try runTool(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", cert, "-days", "1",
                "-subj", "/CN=127.0.0.1",
            ]
        )
        #expect(made == 0)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", keyFile, "-www", "-quiet",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        server.standardInput = FileHandle.nullDevice
        try server.run()
        defer {
            // s_server ignores SIGTERM.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        #expect(await waitUntil(.seconds(10)) { canConnect(port: port) })
        try await pausesAndStops(apiBase: "https://127.0.0.1:\(port)", expect: "TLS handshake failure")
    }

    @Test(
        "a 100 MB answer is cut at the cap: the call is uncertain, its checks are cut too, it stays uncertain (exit 3)"
    )
    func hugeBody() async throws {
        let ws = try await workspace(leads: 1)
        let server = try HugeAnswerServer(bodyBytes: 100 << 20)
        defer { server.stop() }
        let start = ContinuousClock.now
        let run = try await bulkreg(
            [
                "run", "--db", ws.db, "--api-base", "http://127.0.0.1:\(server.port)", "--max-attempts", "1",
                "--request-timeout", "5", "--settle-minimum", "1", "--check-patience", "5", "--quiet",
            ],
            env: ["WEBINARJAM_API_KEY": apiKey]
        )
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        #expect(ContinuousClock.now - start < .seconds(60))
        // Each answer was cut at the cap: a few MB read of each 100 MB (the server counts what the
        // kernel took, buffers included, so the bound is per answer, not a total).
        let sent = server.bytesSent.withLock { $0 }
        let answers = server.hugeAnswers.withLock { $0 }
        #expect(answers >= 1)
        #expect(sent < answers * (16 << 20), "\(sent) bytes over \(answers) answers")
        // Nobody knows whether the vendor registered the lead: it is never failed, it waits for a check.
        #expect(run.stderr.contains("1 lead could not be checked yet"), "\(run.stderr)")
        let uncertain = try await bulkreg(["export", "-", "--state", "uncertain", "--db", ws.db])
        #expect(uncertain.stdout.contains("response too large"), "\(uncertain.stdout)")
    }

    /// Runs against `apiBase` until the progress line shows the outage with `expect`, then
    /// interrupts: exit 130, every job still queued with no attempt spent.
    func pausesAndStops(apiBase: String, expect: String) async throws {
        let ws = try await workspace(leads: 5)
        let (process, _, stderr) = try launchCollected(
            ["run", "--db", ws.db, "--api-base", apiBase, "--request-timeout", "3"],
            env: ["WEBINARJAM_API_KEY": apiKey]
        )
        let shown = await waitUntil(.seconds(30)) { stderr.text.contains(expect) }
        #expect(shown, "\(stderr.text)")
        #expect(stderr.text.contains("next try in"), "\(stderr.text)")
        kill(process.processIdentifier, SIGINT)
        #expect(await waitUntil(.seconds(20)) { !process.isRunning })
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(stderr.text)")
        #expect(!stderr.text.contains(apiKey))
        let status = try await bulkreg(["status", "--json", "--db", ws.db])
        #expect(status.stdout.contains("\"queued\":5"), "\(status.stdout)")
        let export = try await bulkreg(["export", "-", "--db", ws.db])
        let rows = csvRows(export.stdout)
        let attempts = try #require(rows.first?.firstIndex(of: "attempts"))
        let fromEnd = rows[0].count - attempts
        #expect(rows.dropFirst().allSatisfy { $0[$0.count - fromEnd] == "0" }, "\(export.stdout)")
    }
}

/// A TCP socket bound to an ephemeral loopback port (listening if asked), and that port.
func loopbackSocket(listening: Bool, port: Int = 0) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
            bind(fd, p, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, p, &length) == 0
        }
    }
    guard ok else {
        let code = errno
        close(fd)
        throw SimulatorError(description: "cannot bind a loopback port: errno \(code)")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A loopback TCP port nobody listens on right now, below the kernel's ephemeral range: a
/// test keeps it free for seconds before it listens there (or never does), and in the
/// ephemeral range another test's port-0 listener or an outgoing connection's source port
/// could take it meanwhile (CI once failed so: "Address already in use").
func freeLoopbackPort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
        .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) } }
    let ephemeralLow = range?.first ?? 32_768
    let candidates = ephemeralLow > 11_024 ? 10_000..<(ephemeralLow - 1) : 1_024..<ephemeralLow
    for _ in 0..<200 {
        if let (fd, port) = try? loopbackSocket(listening: false, port: Int.random(in: candidates)) {
            close(fd)
            return port
        }
    }
    let (fd, port) = try loopbackSocket(listening: false)
    close(fd)
    return port
}

/// Whether something accepts connections on the loopback port.
func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Runs a tool to the end, its output discarded; returns its exit status.
func runTool(_ path: String, _ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// A loopback HTTP server (one thread per connection) that answers the `webinar` call as the
/// vendor would and every other call with a body of `bodyBytes` bytes, streamed.
final class HugeAnswerServer: Sendable {
    let port: Int
    let bytesSent = Mutex(0)
    /// How many huge answers were begun (each call but `webinar`).
    let hugeAnswers = Mutex(0)
    private let fd: Int32

    init(bodyBytes: Int) throws {
        let (fd, port) = try loopbackSocket(listening: true)
        self.fd = fd
        self.port = port
        let listener = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                let worker = Thread { self.serve(client, bodyBytes: bodyBytes) }
                worker.start()
            }
        }
        listener.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve(_ client: Int32, bodyBytes: Int) {
        defer { close(client) }
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Headers, then the form body (Content-Length), to see which call it is.
        while true {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            request += buffer[0..<n]
            let text = String(decoding: request, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<end.lowerBound].lowercased()
            let length =
                head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if text.utf8.count - text.distance(from: text.startIndex, to: end.upperBound) >= length { break }
        }
        let firstLine = String(decoding: request.prefix { $0 != 0x0D }, as: UTF8.self)
        if firstLine.contains("/webinar ") || firstLine.hasSuffix("/webinar HTTP/1.1") {
            let body =
                #"{"status":"success","webinar":{"webinar_id":5,"name":"Test","schedules":[{"date":"2030-01-05 13:00","schedule":34,"comment":"Sat"}]}}"#
            let answer =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            _ = answer.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            return
        }
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(bodyBytes)\r\n\r\n{\"status\":\"success\",\"x\":\""
        hugeAnswers.withLock { $0 += 1 }
        _ = head.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        var left = bodyBytes - head.utf8.count
        while left > 0 {
            let n = chunk.withUnsafeBytes { send(client, $0.baseAddress!, min(left, chunk.count), Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            bytesSent.withLock { $0 += n }
            left -= n
        }
    }
}
