import BulkReg
import CSV
import Foundation
import Pacing
import PacingTesting
import Synchronization
import TestSupport
import Testing

@testable import WebinarAPI

/// A fingerprint of a file (tests compare databases before and after a failed command).
func fingerprint(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return ContentHash.of(bytes: [UInt8](data)).hex + "/\(data.count)"
}

extension RegistrantsPage {
    /// A registrants list of one page.
    static func only(_ registrants: [Registrant]) -> RegistrantsPage {
        RegistrantsPage(currentPage: 1, lastPage: 1, registrants: registrants)
    }
}

/// A scripted vendor API: answers from closures, records every call.
final class FakeAPI: WebinarAPI, Sendable {
    struct Calls: Sendable {
        var register: [String] = []
        var registrants: [String] = []
        var webinar: [Int] = []
    }

    let calls = Mutex(Calls())
    let registerAnswer: @Sendable (RegistrationRequest, Int) -> Result<RegisteredUser, APIFailure>
    let registrantsAnswer: @Sendable (RegistrantsQuery) -> Result<RegistrantsPage, APIFailure>
    let webinarAnswer: @Sendable (Platform, Int) -> Result<WebinarDetail, APIFailure>

    init(
        register: @escaping @Sendable (RegistrationRequest, Int) -> Result<RegisteredUser, APIFailure> = { r, _ in
            .success(FakeAPI.user(for: r))
        },
        registrants: @escaping @Sendable (RegistrantsQuery) -> Result<RegistrantsPage, APIFailure> = { _ in
            .success(.only([]))
        },
        webinar: @escaping @Sendable (Platform, Int) -> Result<WebinarDetail, APIFailure> = { _, id in
            .success(WebinarDetail(webinarID: id, schedules: [ScheduleInfo(schedule: 34, date: "2024-01-05 13:00")]))
        }
    ) {
        self.registerAnswer = register
        self.registrantsAnswer = registrants
        self.webinarAnswer = webinar
    }

    static func user(for r: RegistrationRequest) -> RegisteredUser {
        let token = String(r.email.lowercased().hashValue & 0xFFFFFF, radix: 16)
        return RegisteredUser(
            userID: abs(r.email.hashValue % 1_000_000),
            webinarID: r.webinarID,
            email: r.email,
            schedule: r.schedule,
            liveRoomURL: "https://event.webinarjam.com/go/live/\(r.webinarID)/\(token)",
            replayRoomURL: "https://event.webinarjam.com/go/replay/\(r.webinarID)/\(token)",
            thankYouURL: "https://event.webinarjam.com/registration/thank-you/\(r.webinarID)/\(token)"
        )
    }

    func webinars(platform: Platform) async -> Result<[WebinarSummary], APIFailure> { .success([]) }

    func webinar(platform: Platform, webinarID: Int, timezone: String?) async -> Result<WebinarDetail, APIFailure> {
        calls.withLock { $0.webinar.append(webinarID) }
        return webinarAnswer(platform, webinarID)
    }

    func register(_ request: RegistrationRequest) async -> Result<RegisteredUser, APIFailure> {
        let n = calls.withLock { c -> Int in
            c.register.append(request.email)
            return c.register.count
        }
        return registerAnswer(request, n)
    }

    func registrants(_ query: RegistrantsQuery) async -> Result<RegistrantsPage, APIFailure> {
        calls.withLock { $0.registrants.append(query.search ?? "") }
        return registrantsAnswer(query)
    }
}

/// Expects importing `file` to fail with one clear input error (exit 2, one line, containing
/// `contains`) and to leave the database at `db` (default `dir.db`) byte-identical.
func expectImportError(
    _ dir: TempDir,
    file: String,
    db: String? = nil,
    map: [String: String] = [:],
    contains: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let dbPath = db ?? dir.db
    let before = fingerprint(dbPath)
    do {
        _ = try Importer.run(
            ImportOptions(file: file, defaults: ImportDefaults(webinarID: 5, schedule: 34), overrides: map),
            databasePath: dbPath,
            now: 1
        )
        Issue.record("no error for \(file)", sourceLocation: sourceLocation)
    } catch let error as BulkRegError {
        #expect(error.exitCode == 2, sourceLocation: sourceLocation)
        #expect(error.message.contains(contains), "\(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
    #expect(fingerprint(dbPath) == before, "database changed", sourceLocation: sourceLocation)
}

/// Imports `file` into `dir.db` (webinar 5, schedule 34 unless told otherwise).
@discardableResult
func importFile(
    _ dir: TempDir,
    _ file: String,
    webinar: Int? = 5,
    schedule: Int? = 34,
    platform: Platform = .webinarjam,
    map: [String: String] = [:],
    delimiter: CSVDelimiter? = nil,
    encoding: CSVEncoding? = nil,
    now: Double = 1_000
) throws -> ImportSummary {
    try Importer.run(
        ImportOptions(
            file: file,
            defaults: ImportDefaults(platform: platform, webinarID: webinar, schedule: schedule),
            overrides: map,
            reading: CSVReaderOptions(delimiter: delimiter, encoding: encoding)
        ),
        databasePath: dir.db,
        now: now
    )
}

/// Writes `text` as `name` in a new temporary directory and imports it with the defaults of
/// ``importFile(_:_:webinar:schedule:platform:map:delimiter:encoding:now:)``.
func importCSV(_ name: String, _ text: String) throws -> (dir: TempDir, summary: ImportSummary) {
    let dir = TempDir()
    return (dir, try importFile(dir, dir.write(name, text)))
}

/// Imports `count` leads (email,first_name) into a new database at `dir.db`.
@discardableResult
func importLeads(
    _ dir: TempDir,
    count: Int,
    webinar: Int = 5,
    schedule: Int = 34,
    name: String = "leads.csv"
) throws
    -> ImportSummary
{
    var text = "email,first_name\n"
    for i in 1...count { text += "lead\(i)@example.com,Lead\(i)\n" }
    return try importFile(dir, dir.write(name, text), webinar: webinar, schedule: schedule)
}

/// What the runner tests start from: `leads` imported leads (`importLeads`), then `afterImport`
/// on the database, then a runner over them with `api` on the manual `clock`, with fast,
/// deterministic settings.
struct TestRun {
    let dir = TempDir()
    let api: FakeAPI
    let clock: ManualClock
    let runner: Runner<ManualClock>
    let store: JobStore

    init(
        leads: Int,
        schedule: Int = 34,
        afterImport: (TempDir) throws -> Void = { _ in },
        api: FakeAPI = FakeAPI(),
        clock: ManualClock = ManualClock(),
        workers: Int = 8,
        rate: Int = 20,
        maxAttempts: Int = 3
    ) throws {
        try importLeads(dir, count: leads, schedule: schedule)
        try afterImport(dir)
        self.api = api
        self.clock = clock
        store = try JobStore(path: dir.db)
        runner = Runner(
            api: api,
            store: store,
            clocks: Clocks(monotonic: clock, wall: { 2_000 }),
            configuration: RunConfiguration(
                workers: workers,
                rate: rate,
                maxAttempts: maxAttempts,
                requestTimeout: .seconds(30),
                backoff: Backoff(),
                seed: 42
            )
        )
    }

    /// Runs the runner to the end while moving the manual clock forward whenever someone sleeps
    /// on it; asks it to stop once `stopAfterCalls` registrations were sent.
    func drive(stopAfterCalls: Int? = nil) async throws -> RunOutcome {
        let (runner, clock, api) = (runner, clock, api)
        let task = Task { try await runner.run() }
        let driver = Task {
            var stopped = false
            while !Task.isCancelled {
                if let limit = stopAfterCalls, !stopped, api.calls.withLock({ $0.register.count }) >= limit {
                    runner.requestStop()
                    stopped = true
                }
                // Let every runnable task reach its next suspension before time moves, so that
                // nobody wakes late for a slot (which the runner would then count as a late start).
                for _ in 0..<64 { await Task.yield() }
                if clock.nextDeadline != nil { clock.advanceToNextDeadline() }
            }
        }
        defer { driver.cancel() }
        return try await task.value
    }
}

/// The export as rows of fields (via the CSV module).
func exportRows(_ dir: TempDir, state: JobState? = nil, excelSafe: Bool = false) throws -> [[String]] {
    let out = dir.file("export-\(UUID().uuidString).csv")
    try Exporter.run(ExportOptions(output: out, state: state, excelSafe: excelSafe), databasePath: dir.db)
    return try readCSV(out)
}
