import ArgumentParser
import BulkReg
import Pacing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract:
            "One lead's story: its import file and line, the fields sent, every call made for it, its state and URLs.",
        discussion: """
            By job number (as in the export's job_id column, or status's errors), or by email address: every job \
            of that person, in every webinar, rejected and duplicate rows included.

            Examples: bulkreg show ana@example.com; bulkreg show 1042
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "An email address, or a job number.")
    var lead: String

    func run() throws {
        let stories = try LeadStory.load(databasePath: database.path, query: lead)
        guard !stories.isEmpty else {
            let what = Int(lead.trimmingPrefix("#")) != nil ? "no job \(lead)" : "no lead with the email \(lead)"
            throw BulkRegError(.input, "\(database.path): \(what) in this database (see `bulkreg status`)")
        }
        print(stories.map { $0.rendered() }.joined(separator: "\n\n"))
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write a self-contained HTML report of the database: totals, charts over time, outages, failed leads, imports.",
        discussion: """
            One file with its styles and charts inside (no script, font or image from the network): it opens \
            offline, on a phone, and prints. It holds the failed leads' emails: share it as you would the list. \
            Written to a temporary file beside OUT.html and renamed into place, mode 0600.

            Example: bulkreg report campaign.html
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The HTML file to write.")
    var output: String

    func run() throws {
        let data = try ReportData.load(databasePath: database.path, now: Clocks.system.wall())
        let html = try ReportPage.render(data, database: database.path)
        try ReportFile.write(html, to: output)
        Terminal.error("wrote the report to \(output)")
    }
}

/// Writes a whole file or nothing: a temporary sibling (mode 0600), renamed into place.
enum ReportFile {
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw failure(path, errno) }
        let ok = SystemCalls.writeAll(fd, text)
        let code = errno
        if !ok || fsync(fd) != 0 {
            close(fd)
            unlink(temporary)
            throw failure(path, ok ? errno : code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, code)
        }
    }

    static func failure(_ path: String, _ code: Int32) -> BulkRegError {
        BulkRegError(.input, "\(path): cannot write the report: \(String(cString: strerror(code)))")
    }
}
