import ArgumentParser
import BulkReg
import Foundation
import Pacing
import WebinarAPI

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Audit the registered leads against the vendor's registrants.",
        discussion: """
            For every webinar schedule with done jobs, reads every page of the vendor's registrants \
            (through the key's shared budget) and matches them by email and schedule: confirmed; links \
            changed (a session was edited: --refresh stores the new live and replay URLs and clears the \
            thank-you URL, which registrants cannot give, saying so in the error column); not found at \
            the vendor (the job becomes failed, so `bulkreg retry` then `bulkreg run` register it again); \
            or registered at the vendor but not in this database (counted, not touched). Each page's \
            findings are committed before the next page is read: an interrupted verify keeps them. \
            Exit 0 when every lead is confirmed or refreshed, 3 when some were not found, changed \
            without --refresh, or could not be checked.

            Example: bulkreg verify --refresh
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var api: APIOptions

    @Flag(name: .long, help: "Store the vendor's current live and replay URLs where they changed.")
    var refresh = false

    @Flag(name: .long, help: "No progress line.")
    var quiet = false

    func run() async throws {
        let path = database.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw BulkRegError(.usage, "\(path): no such database (import leads first, or give --db)")
        }
        let lock = try RunLock(databasePath: path)
        defer { withExtendedLifetime(lock) {} }
        let stamp = Self.stamp(Clocks.system.wall())
        let interactive = !quiet && isatty(2) == 1
        let counts = try await withClient(api, label: KeyBudget.label(forDatabase: path)) { client in
            try await Verifier(refresh: refresh).run(
                databasePath: path,
                api: client,
                clocks: .system,
                stamp: stamp
            ) { c in
                guard interactive else { return }
                StandardError.write(
                    "\rverify: \(c.platform.rawValue) webinar \(c.webinarID) schedule \(c.schedule): page \(c.pages), "
                        + "\(c.confirmed) confirmed, \(c.changed) changed   "
                )
            }
        }
        if interactive { StandardError.write("\n") }
        print(Self.render(counts, refresh: refresh))
        if counts.contains(where: {
            $0.notFound > 0 || $0.error != nil || $0.unsettled > 0 || ($0.changed > 0 && !refresh)
        }) {
            throw ExitCode(3)
        }
    }

    static func stamp(_ seconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    static func render(_ counts: [VerifyCounts], refresh: Bool) -> String {
        guard !counts.isEmpty else { return "verify: no registered leads to verify" }
        var lines: [String] = []
        for c in counts {
            var line =
                "\(c.platform.rawValue) webinar \(c.webinarID) schedule \(c.schedule): \(c.jobs) registered leads, "
                + "\(c.confirmed) confirmed, \(c.changed) links changed"
            line += c.changed == 0 ? "" : refresh ? " (refreshed)" : " (not stored: run with --refresh)"
            line += ", \(c.notFound) not found at the vendor (now failed)"
            if c.unsettled > 0 { line += ", \(c.unsettled) not told apart (same person in several sessions)" }
            line += ", \(c.vendorOnly) at the vendor only (\(c.pages) pages)"
            if let error = c.error { line += "; unfinished: \(error) (nothing marked not found)" }
            lines.append(line)
        }
        let notFound = counts.reduce(0) { $0 + $1.notFound }
        if notFound > 0 {
            lines.append(
                "\(notFound) leads are no longer registered at the vendor: `bulkreg retry` then `bulkreg run` registers them again."
            )
        }
        return lines.joined(separator: "\n")
    }
}
