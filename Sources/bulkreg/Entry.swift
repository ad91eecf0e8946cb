import ArgumentParser
import BulkReg

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses, runs, and maps every failure to the exit codes README lists: 2 for usage, configuration and
/// input errors (ArgumentParser's own 64 included), 1 for the unexpected.
@main
enum Entry {
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        umask(0o077)
        do {
            var command = try BulkRegCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as BulkRegError {
            Terminal.error(error.message)
            exit(error.exitCode)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = BulkRegCommand.exitCode(for: error)
            let message = BulkRegCommand.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            if code == .validationFailure {
                Terminal.error(message)
                exit(2)
            }
            Terminal.error(message.isEmpty ? "\(error)" : message)
            exit(1)
        }
    }
}

/// Writing to the terminal.
enum Terminal {
    static func error(_ message: String) {
        let text = message.hasPrefix("Error:") || message.hasPrefix("bulkreg:") ? message : "bulkreg: \(message)"
        StandardError.write(text + "\n")
    }

    /// The terminal's width in columns (standard error's), `COLUMNS`, or 80.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let env = getenv("COLUMNS"), let n = Int(String(cString: env)), n > 0 { return n }
        return 80
    }
}

/// Standard error, written with `write(2)` (unbuffered, whole text).
enum StandardError {
    static func write(_ text: String) {
        _ = SystemCalls.writeAll(2, text)
    }
}

struct BulkRegCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulkreg",
        abstract:
            "Register lists of leads into WebinarJam and EverWebinar webinars, at the vendor's rate limit, crash-safe.",
        discussion: """
            Typical use:
              bulkreg webinars                                    # find webinar and schedule ids
              bulkreg import leads.csv --webinar 5 --schedule 34  # queue the leads
              bulkreg run                                         # register them (resumable)
              bulkreg export results.csv                          # URLs for your autoresponder

            The API key is read from WEBINARJAM_API_KEY or --api-key-file, never from a flag value.

            Exit codes: 0 success, 3 some leads failed permanently or could not be checked yet, \
            2 usage/input/configuration, 130/143 interrupted by a signal, 1 unexpected.
            """,
        subcommands: [
            ImportCommand.self, RunCommand.self, StatusCommand.self, ExportCommand.self, RetryCommand.self,
            CancelCommand.self,
            VerifyCommand.self, ShowCommand.self, ReportCommand.self, WebinarsCommand.self, WebinarCommand.self,
            LinkCommand.self, SimCommand.self,
            DemoCommand.self,
        ]
    )
}
