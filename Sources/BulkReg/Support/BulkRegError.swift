/// An error a user can act on: what went wrong, where (file, line, field), and how to fix it.
///
/// Messages never contain the API key or a lead's personal data beyond what the user
/// already pointed at (a file name, a line number, a column name).
package struct BulkRegError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure, which decides the exit code.
    package enum Code: Sendable, Equatable {
        /// Bad flags or configuration (exit 2).
        case usage
        /// Bad input file (exit 2).
        case input
        /// The database cannot be used: locked, read-only, full, corrupt, newer (exit 2).
        case storage
        /// The API key was refused, or is missing (exit 2).
        case auth
        /// Something we did not foresee (exit 1).
        case unexpected
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    /// The process exit status for this error (2 usage/config/input, 1 unexpected; README lists them all).
    package var exitCode: Int32 { code == .unexpected ? 1 : 2 }
}
