import CSQLite

/// A failed SQLite call.
///
/// The description names the operation and SQLite's own message, never a bound value: the
/// database holds personal data, and errors end up in terminals and logs.
public struct SQLiteError: Error, CustomStringConvertible, Sendable, Equatable {
    /// SQLite's primary result code (`SQLITE_BUSY`, `SQLITE_FULL`, …), matchable.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        /// The primary code of an extended one.
        public var primary: Code { Code(rawValue & 0xFF) }

        public static let error = Code(SQLITE_ERROR)
        public static let permission = Code(SQLITE_PERM)
        public static let busy = Code(SQLITE_BUSY)
        public static let locked = Code(SQLITE_LOCKED)
        public static let readOnly = Code(SQLITE_READONLY)
        public static let ioError = Code(SQLITE_IOERR)
        public static let corrupt = Code(SQLITE_CORRUPT)
        public static let full = Code(SQLITE_FULL)
        public static let cannotOpen = Code(SQLITE_CANTOPEN)
        public static let constraint = Code(SQLITE_CONSTRAINT)
        public static let notADatabase = Code(SQLITE_NOTADB)
        public static let misuse = Code(SQLITE_MISUSE)

        public var description: String { String(cString: sqlite3_errstr(rawValue)) }
    }

    /// The (possibly extended) result code.
    public var code: Code
    /// SQLite's message for the failure (`sqlite3_errmsg`), which never contains bound values.
    public var message: String
    /// What we were doing: "open", "prepare", "step", "exec", … plus the SQL's first words.
    public var operation: String

    public init(code: Code, message: String, operation: String) {
        self.code = code
        self.message = message
        self.operation = operation
    }

    public var description: String {
        "\(message) (\(operation), SQLite code \(code.rawValue))"
    }
}
