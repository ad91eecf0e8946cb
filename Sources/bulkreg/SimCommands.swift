import ArgumentParser
import BulkReg
import Foundation
import Logging
import Pacing
import WebinarAPI
import WebinarSim

struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the built-in simulator of the vendor API on 127.0.0.1.",
        discussion: """
            Prints the URL it listens on; point bulkreg at it with --api-base (any key of 8+ characters is \
            accepted). Statistics: GET /__sim/stats; registrations: GET /__sim/registrations; fault settings: \
            GET /__sim/config, and POST /__sim/config with a JSON object of them (camelCase, e.g. \
            {"proxyPageRate":1,"proxyPageStatuses":[504]}) to replace them while it runs; POST /__sim/reset.

            The rate options are shares of the calls of --fault-methods (register by default), drawn from the \
            seeded generator; together they must not exceed 1.

            Example: bulkreg sim --port 0 --latency-ms 100-400 --error-rate 0.05 --duplicates new-user
            """
    )

    @Option(name: .long, help: "Port on 127.0.0.1 (0 = any free port).")
    var port: Int = 8089

    @Option(name: .long, help: "Seed for tokens, latency and faults.")
    var seed: UInt64 = 42

    @Option(name: .long, help: "A JSON file with the account's webinars (replaces the built-in account).")
    var webinars: String?

    @Option(name: .long, help: "Latency of every call in ms: 150 or 100-400 (up to minutes; no cap).")
    var latencyMs: String = "0"

    @Option(name: .long, help: "Methods the fault rates apply to: register,registrants,webinar,webinars or all.")
    var faultMethods: String = "register"

    @Option(name: .long, help: "Share of calls answered 500/502/503 (HTML or JSON); nothing stored.")
    var errorRate: Double = 0

    @Option(name: .long, help: "Share of calls whose connection is reset before the registration is stored.")
    var resetBeforeRate: Double = 0

    @Option(name: .long, help: "Share of calls whose connection is reset after the registration is stored.")
    var resetAfterRate: Double = 0

    @Option(name: .long, help: "Share of calls answered 200 with an unreadable body (the registration is stored).")
    var garbageRate: Double = 0

    @Option(
        name: .long,
        help:
            "Share of calls answered 200 {\"status\":\"error\",\"message\":\"The registration could not be completed at this time\"}; nothing stored."
    )
    var statusErrorRate: Double = 0

    @Option(
        name: .long,
        help:
            "Share of calls answered 200 {\"status\":\"error\"} with a 'try again later' message or none; nothing stored."
    )
    var troubleRate: Double = 0

    @Option(
        name: .long,
        help: "Share of calls answered a proxy/CDN HTML error page (504 and 524 store the registration first)."
    )
    var proxyPageRate: Double = 0

    @Option(name: .long, help: "Statuses proxy pages are drawn from (default 408,425,502,503,504,520,522,524).")
    var proxyPageStatuses: String?

    @Option(
        name: .long,
        help: "Share of calls answered after --slow-ms more; stored when the delay ends, even if the client gave up."
    )
    var slowRate: Double = 0

    @Option(name: .long, help: "Delay of a slow answer, ms.")
    var slowMs: Int = 5_000

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Refuse every register call of EMAIL (any case): 200 {\"status\":\"error\",\"message\":MESSAGE}; repeatable.",
            valueName: "EMAIL=MESSAGE"
        )
    )
    var refuse: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Refuse every register call of EMAIL (any case): 422 {\"errors\":{FIELD:[\"The FIELD is invalid.\"]}}; repeatable.",
            valueName: "EMAIL=FIELD"
        )
    )
    var refuseField: [String] = []

    @Option(
        name: .long,
        help: "The first N webinar calls per webinar id answer 400 \"Webinar not found\", later ones correctly."
    )
    var webinarNotFoundFirst: Int = 0

    @Option(name: .long, help: "For the first N seconds, every registrants call answers a 503 HTML page.")
    var registrantsDownS: Int = 0

    @Option(name: .long, help: "Rows per page of the registrants answer.")
    var registrantsPerPage: Int = 20

    @Flag(name: .long, help: "The registrants call ignores its search parameter (lists every row).")
    var ignoreSearch = false

    @Flag(name: .long, help: "Each registrants row also carries \"date\", its session date (yyyy-MM-dd HH:mm).")
    var registrantsDates = false

    @Flag(
        name: .long,
        help:
            "Registrants links written another way than register's (http, upper-case host, ?lead_id=N, trailing slash): the same attendee."
    )
    var registrantsLinkVariant = false

    @Option(
        name: .long,
        help: "A second registration of the same email (EverWebinar: and session date): same-user, new-user or error.",
        transform: DuplicatePolicy.parse
    )
    var duplicates: DuplicatePolicy = .sameUser

    @Option(name: .long, help: "Calls per second per key before 429.")
    var rateLimit: Int = 20

    @Option(
        name: .long,
        help:
            "The answer over the rate limit: plain (429 text), json (429 JSON), json-200 (200 JSON error) or html (429 page).",
        transform: SimRateLimitAnswer.parse
    )
    var rateLimitAnswer: SimRateLimitAnswer = .plain

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard SimFaults.parseLatency(latencyMs) != nil else {
            throw ValidationError("--latency-ms \(latencyMs): expected 150 or 100-400")
        }
        _ = try faultSettings()
        if rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1") }
        if registrantsPerPage < 1 { throw ValidationError("--registrants-per-page must be at least 1") }
    }

    func faultSettings() throws -> SimFaults {
        guard let methods = SimFaults.parseMethods(faultMethods) else {
            throw ValidationError(
                "--fault-methods \(faultMethods): expected register,registrants,webinar,webinars or all"
            )
        }
        var statuses = SimFaults.allProxyPageStatuses
        if let proxyPageStatuses {
            guard let parsed = SimFaults.parseStatuses(proxyPageStatuses) else {
                throw ValidationError("--proxy-page-statuses \(proxyPageStatuses): expected statuses such as 502,504")
            }
            statuses = parsed
        }
        func leads(_ options: [String], _ name: String, _ value: String) throws -> [String: String] {
            var result: [String: String] = [:]
            for option in options {
                guard let (email, text) = SimFaults.parseLeadOption(option) else {
                    throw ValidationError("--\(name) \(option): expected EMAIL=\(value)")
                }
                result[email.lowercased()] = text
            }
            return result
        }
        return SimFaults(
            latencyMs: SimFaults.parseLatency(latencyMs) ?? 0...0,
            serverErrorRate: errorRate,
            resetBeforeStoreRate: resetBeforeRate,
            resetAfterStoreRate: resetAfterRate,
            garbageBodyRate: garbageRate,
            statusErrorRate: statusErrorRate,
            slowRate: slowRate,
            slowMs: slowMs,
            methods: methods,
            vendorTroubleRate: troubleRate,
            proxyPageRate: proxyPageRate,
            proxyPageStatuses: statuses,
            refusals: try leads(refuse, "refuse", "MESSAGE"),
            fieldRefusals: try leads(refuseField, "refuse-field", "FIELD"),
            webinarNotFoundFirst: webinarNotFoundFirst,
            registrantsDownS: registrantsDownS
        )
    }

    func config() throws -> SimulatorConfig {
        var config = SimulatorConfig(
            port: port,
            seed: seed,
            duplicatePolicy: duplicates,
            rateLimit: rateLimit,
            registrantsPerPage: registrantsPerPage,
            rateLimitAnswer: rateLimitAnswer,
            ignoreSearch: ignoreSearch,
            registrantsDates: registrantsDates
        )
        config.registrantsLinkVariant = registrantsLinkVariant
        if let webinars {
            do { config.account = try SimAccount.load(path: webinars) } catch { throw BulkRegError(.input, "\(error)") }
        }
        config.faults = try faultSettings()
        if let problem = config.validationError() { throw BulkRegError(.usage, problem) }
        return config
    }

    func run() async throws {
        LoggingSetup.bootstrap(verbose: false)
        let config = try config()
        do {
            try await Simulator.run(config: config) { sim in
                FileHandle.standardOutput.write(
                    Data("bulkreg sim listening on \(sim.baseURL) (stats: \(sim.baseURL)/__sim/stats)\n".utf8)
                )
            }
        } catch {
            throw BulkRegError(.usage, "\(error)")
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "The whole pipeline on the built-in simulator: import fixtures/leads.csv, run, export. No key, no network.",
        discussion: "Example: swift run bulkreg demo"
    )

    @Option(name: .long, help: "The leads to import.")
    var file: String = "fixtures/leads.csv"

    @Option(name: .long, help: "Where to write the results.")
    var output: String = "./bulkreg-demo-results.csv"

    @Flag(name: .long, help: "No progress line.")
    var quiet = false

    func run() async throws {
        LoggingSetup.bootstrap(verbose: false)
        guard FileManager.default.fileExists(atPath: file) else {
            throw BulkRegError(.input, "\(file): not found; run the demo from the repository's root, or pass --file")
        }
        // A simulator with realistic latency and a few faults, so the demo shows retries and
        // the check that prevents double registrations.
        var config = SimulatorConfig(port: 0, seed: 7, duplicatePolicy: .newUser)
        config.faults = SimFaults(latencyMs: 80...300, serverErrorRate: 0.02, resetAfterStoreRate: 0.02)
        let sim: RunningSimulator
        do { sim = try await Simulator.start(config: config) } catch { throw BulkRegError(.unexpected, "\(error)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bulkreg-demo-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = dir + "/demo.sqlite"
        print("simulator: \(sim.baseURL) (WebinarJam webinar 5, schedule 34; 2% 5xx, 2% resets after storing)")

        let summary = try Importer.run(
            ImportOptions(file: file, defaults: ImportDefaults(platform: .webinarjam, webinarID: 5, schedule: 34)),
            databasePath: db,
            now: Clocks.system.wall()
        )
        print(summary.rendered(databasePath: db))

        let requestTimeout = Duration.seconds(3)
        var configuration = RunConfiguration(
            rate: 20,
            maxAttempts: 6,
            requestTimeout: requestTimeout,
            backoff: Backoff(base: .milliseconds(200), cap: .seconds(2))
        )
        // The built-in simulator stores before it answers or resets: seconds of settle time
        // are enough here (the real vendor gets the 60 s floor).
        configuration.settleMinimum = .seconds(3)
        let session = RunSession(
            client: try makeHTTPClient(
                baseURL: sim.baseURL,
                apiKey: "demo-key-not-a-secret",
                connectTimeout: .seconds(2),
                requestTimeout: requestTimeout
            ),
            store: try JobStore(path: db),
            configuration: configuration,
            quiet: quiet
        )
        let started = ContinuousClock.now
        let ending = try await session.drive()
        let elapsed = ContinuousClock.now - started
        let rows = try Exporter.run(ExportOptions(output: output), databasePath: db)
        let stats = await sim.stats()
        await sim.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
        let seconds = (elapsed.seconds * 10).rounded() / 10
        print(
            """
            took \(seconds) s; the simulator saw \(stats.totalCalls) calls, at most \(stats.maxCallsInWindow) in any 1-second window, \
            \(stats.rateLimited) × 429, \(stats.duplicates) person(s) registered twice
            results: \(rows) rows in \(output) (original columns + status, job_id, webinar_id, schedule, user_id, live_room_url, replay_room_url, thank_you_url, ...)
            """
        )
        if case .failure(let error)? = ending.outcome { throw error }
        if let signal = ending.signal { throw ExitCode(signal == .sigterm ? 143 : 130) }
    }
}
