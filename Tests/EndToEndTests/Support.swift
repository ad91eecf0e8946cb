import Foundation
import Synchronization
import TestSupport
import Testing
import WebinarSim

/// The built `bulkreg` executable, next to the test bundle.
let bulkregBinary: URL = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
    ]
    for dir in candidates {
        let url = dir.appendingPathComponent("bulkreg")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return candidates[0].appendingPathComponent("bulkreg")
}()

/// A finished process.
struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A fresh directory per end-to-end test.
typealias Workspace = TempDir

extension TempDir {
    /// An end-to-end test's directory (its database: `e2e.sqlite`).
    static func e2e() -> TempDir { TempDir(prefix: "bulkreg-e2e-", database: "e2e.sqlite") }

    /// An end-to-end test's directory with one file written in it: the directory and the file's path.
    static func e2e(writing name: String, _ text: String) -> (ws: TempDir, file: String) {
        let ws = e2e()
        return (ws, ws.write(name, text))
    }
}

/// Starts `bulkreg ARGS` with a clean environment plus `env`.
func launch(_ args: [String], env: [String: String] = [:], cwd: String? = nil) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = bulkregBinary
    process.arguments = args
    var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
    // The key's shared budget lives beside the test's database, so tests running at once with
    // one key do not share it (a test that wants sharing sets XDG_STATE_HOME itself).
    let db = args.firstIndex(of: "--db").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil } ?? env["BULKREG_DB"]
    if let db, db.hasPrefix("/") {
        environment["XDG_STATE_HOME"] = (db as NSString).deletingLastPathComponent + "/state"
    } else if let cwd {
        environment["XDG_STATE_HOME"] = cwd + "/state"
    }
    for (k, v) in env { environment[k] = v }
    process.environment = environment
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    return try start(process)
}

/// Starts a configured process with its stdout and stderr on pipes and no stdin.
func start(_ process: Process) throws -> (Process, Pipe, Pipe) {
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return (process, out, err)
}

/// Starts `bulkreg ARGS` like `launch`, its stdout and stderr collected as they come.
func launchCollected(
    _ args: [String],
    env: [String: String] = [:]
) throws -> (Process, stdout: PipeCollector, stderr: PipeCollector) {
    let (process, out, err) = try launch(args, env: env)
    return (process, PipeCollector(out), PipeCollector(err))
}

/// Everything a pipe delivers, read on a thread of its own (never the cooperative pool).
final class PipeCollector: Sendable {
    private let data = Mutex(Data())

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.data.withLock { $0.append(chunk) }
            }
        }
        thread.start()
    }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// Runs a configured process to the end.
func runToEnd(_ process: Process) async throws -> Outcome {
    let (process, out, err) = try start(process)
    return await finish(process, out, err)
}

/// Runs `bulkreg ARGS` to the end.
func bulkreg(_ args: [String], env: [String: String] = [:], cwd: String? = nil) async throws -> Outcome {
    let (process, out, err) = try launch(args, env: env, cwd: cwd)
    return await finish(process, out, err)
}

/// Collects a launched process's output and exit status. Blocking reads and waits run on
/// Dispatch threads, never on the cooperative pool (which the in-process simulator needs).
func finish(_ process: Process, _ out: Pipe, _ err: Pipe) async -> Outcome {
    await withCheckedContinuation { continuation in
        let group = DispatchGroup()
        nonisolated(unsafe) var o = Data()
        nonisolated(unsafe) var e = Data()
        group.enter()
        DispatchQueue.global().async {
            o = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            e = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.notify(queue: .global()) {
            process.waitUntilExit()
            continuation.resume(
                returning: Outcome(
                    status: process.terminationStatus,
                    stdout: String(decoding: o, as: UTF8.self),
                    stderr: String(decoding: e, as: UTF8.self)
                )
            )
        }
    }
}

/// The first line a launched process writes to stdout (read off the cooperative pool).
func firstLine(_ pipe: Pipe) async -> String {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            continuation.resume(returning: String(decoding: line, as: UTF8.self))
        }
    }
}

/// Waits (polling a real process's effect: there is no clock to inject across processes)
/// until `condition` holds, for at most `limit`.
func waitUntil(_ limit: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if await condition() { return true }
        try? await clock.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// Leads as CSV: `count` valid ones plus the given extra lines.
func leadsCSV(count: Int, extra: [String] = []) -> String {
    var text = "Email Address,First Name,Last Name,Phone Number\n"
    for i in 1...count { text += "person\(i)@example.com,Person\(i),Test,(555) 010-\(String(format: "%04d", i))\n" }
    for line in extra { text += line + "\n" }
    return text
}

/// A workspace whose database holds `count` leads (`leadsCSV`) imported from `file` with
/// `options` (webinar 5, schedule 34 unless told otherwise); the import is expected to succeed.
func workspace(
    leads count: Int,
    extra: [String] = [],
    file name: String = "leads.csv",
    options: [String] = ["--webinar", "5", "--schedule", "34"],
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Workspace {
    let (ws, file) = Workspace.e2e(writing: name, leadsCSV(count: count, extra: extra))
    let imported = try await bulkreg(["import", file] + options + ["--db", ws.db])
    #expect(imported.status == 0, "\(imported.stderr)", sourceLocation: sourceLocation)
    return ws
}

/// Parses a CSV export (simple: the export quotes only when needed, the test data has no quotes).
func csvRows(_ text: String) -> [[String]] {
    text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { line in
        line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
}

/// ``withSimulator(_:run:)`` with every answer delayed by `latencyMs` (and no other fault).
func withSimulator<T>(latencyMs: ClosedRange<Int>, run body: (RunningSimulator) async throws -> T) async throws -> T {
    try await withSimulator({ $0.faults.latencyMs = latencyMs }, run: body)
}

/// A simulator for one test.
func withSimulator<T>(
    _ configure: (inout SimulatorConfig) -> Void = { _ in },
    run body: (RunningSimulator) async throws -> T
) async throws -> T {
    var config = SimulatorConfig(port: 0)
    configure(&config)
    let sim = try await Simulator.start(config: config)
    do {
        let value = try await body(sim)
        await sim.shutdown()
        return value
    } catch {
        await sim.shutdown()
        throw error
    }
}
