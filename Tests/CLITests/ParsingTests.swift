import ArgumentParser
import Testing
import WebinarSim

@testable import BulkReg
@testable import bulkreg

/// The command line parsed in process (`parseAsRoot`): typed values come out typed, bad ones
/// are refused by the parser with the option, the value and what was expected.
@Suite("Command line parsing")
struct ParsingTests {
    private func parse<T: ParsableCommand>(_ arguments: [String], as type: T.Type) throws -> T {
        let command = try BulkRegCommand.parseAsRoot(arguments)
        return try #require(command as? T)
    }

    /// The message the parser gives for `arguments` (they must fail to parse).
    private func refusal(_ arguments: [String]) -> String {
        do {
            _ = try BulkRegCommand.parseAsRoot(arguments)
            return "parsed"
        } catch {
            return BulkRegCommand.message(for: error)
        }
    }

    @Test("import: delimiter, encoding and FIELD=HEADER pairs typed; later pairs for a field win")
    func importOptions() throws {
        let command = try parse(
            [
                "import", "a.csv", "--webinar", "5", "--schedule", "34", "--delimiter", "semicolon", "--encoding",
                "windows-1252", "--map", "email=E-mail", "--map", "first_name=#2", "--map", "email=Mail",
            ],
            as: ImportCommand.self
        )
        #expect(command.delimiter == DelimiterArgument(delimiter: .semicolon))
        #expect(command.encoding == EncodingArgument(encoding: .windows1252))
        #expect(command.overrides == ["email": "Mail", "first_name": "#2"])
        let plain = try parse(["import", "a.csv", "--webinar", "5", "--schedule", "34"], as: ImportCommand.self)
        #expect(plain.delimiter == .auto && plain.encoding == .auto && plain.overrides.isEmpty)
    }

    @Test(
        "a bad value is refused by the parser, naming the option, the value and what is expected",
        arguments: [
            (["import", "a.csv", "--delimiter", "X"], "'X' is invalid for '--delimiter <delimiter>': expected auto"),
            (
                ["import", "a.csv", "--encoding", "ebcdic"],
                "'ebcdic' is invalid for '--encoding <encoding>': expected auto"
            ),
            (["import", "a.csv", "--map", "email"], "'email' is invalid for '--map <map>': expected FIELD=HEADER"),
            (["import", "a.csv", "--map", "=Email"], "'=Email' is invalid for '--map <map>': expected FIELD=HEADER"),
            (["export", "-", "--state", "nope"], "'nope' is invalid for '--state <state>': expected one of queued"),
            (
                ["sim", "--duplicates", "twice"],
                "'twice' is invalid for '--duplicates <duplicates>': expected same-user"
            ),
            (["sim", "--rate-limit-answer", "xml"], "'xml' is invalid for '--rate-limit-answer <rate-limit-answer>'"),
            (
                ["link", "--webinar", "5", "--autoresponder", "x"],
                "'x' is invalid for '--autoresponder <autoresponder>'"
            ),
        ]
    )
    func refused(arguments: [String], message: String) {
        #expect(refusal(arguments).contains(message))
    }

    @Test("export: repeated --state typed, in order")
    func exportStates() throws {
        let command = try parse(["export", "-", "--state", "failed", "--state", "uncertain"], as: ExportCommand.self)
        #expect(command.state == [.failed, .uncertain])
    }

    @Test("sim: duplicate policy and rate-limit answer typed, aliases accepted")
    func simOptions() throws {
        let command = try parse(
            ["sim", "--duplicates", "newuser", "--rate-limit-answer", "JSON-200"],
            as: SimCommand.self
        )
        #expect(command.duplicates == .newUser)
        #expect(command.rateLimitAnswer == .json200)
        let defaults = try parse(["sim"], as: SimCommand.self)
        #expect(defaults.duplicates == .sameUser && defaults.rateLimitAnswer == .plain)
    }
}
