import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SQLite connection. Not thread-safe: own it from one actor or thread.
///
/// `@unchecked Sendable` so an owner (an actor with its own executor) can hold it; the owner
/// guarantees serial use, as SQLite's multi-thread mode requires.
public final class Connection: @unchecked Sendable {
    /// Where the database lives.
    public enum Location: Sendable, Equatable {
        case memory
        case path(String)
    }

    /// How to open it.
    public struct OpenOptions: Sendable {
        public var readOnly: Bool
        public var create: Bool
        /// File mode for a newly created database file (and its `-wal`/`-shm` siblings).
        public var fileMode: mode_t
        /// How long to wait on a lock held by another connection.
        public var busyTimeoutMilliseconds: Int32

        public init(
            readOnly: Bool = false,
            create: Bool = true,
            fileMode: mode_t = 0o600,
            busyTimeoutMilliseconds: Int32 = 5_000
        ) {
            self.readOnly = readOnly
            self.create = create
            self.fileMode = fileMode
            self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        }
    }

    /// The raw handle, for the rare call this wrapper lacks.
    public let handle: OpaquePointer
    private var cache: [String: Statement] = [:]

    /// Process-wide settings, applied once before the first connection.
    private static let configured: Bool = {
        _ = csqlite_disable_memstatus()
        return true
    }()

    /// Opens (and maybe creates) a database.
    ///
    /// A new file is created with `options.fileMode` (0600 by default) *before* SQLite opens
    /// it, so there is no window in which personal data sits in a world-readable file.
    public init(_ location: Location, options: OpenOptions = OpenOptions()) throws(SQLiteError) {
        _ = Self.configured
        let path: String
        switch location {
        case .memory: path = ":memory:"
        case .path(let p):
            path = p
            if options.create && !options.readOnly {
                let fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, options.fileMode)
                if fd >= 0 {
                    close(fd)
                } else if errno != EEXIST {
                    let err = errno
                    throw SQLiteError(
                        code: .cannotOpen,
                        message: "cannot create database file: \(String(cString: strerror(err)))",
                        operation: "open"
                    )
                }
            }
        }
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        if options.readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if options.create { flags |= SQLITE_OPEN_CREATE }
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: .init(rc), message: message, operation: "open")
        }
        handle = db
        sqlite3_busy_timeout(db, options.busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errmsg)
            throw SQLiteError(code: .init(rc), message: message, operation: "exec \(Self.summary(sql))")
        }
    }

    /// A new prepared statement, finalized when released.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        try Statement(connection: self, sql: sql)
    }

    /// A prepared statement kept for the life of the connection, reset and unbound for reuse.
    public func cached(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = cache[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql)
        cache[sql] = statement
        return statement
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(
        _ kind: TransactionKind = .immediate,
        _ body: () throws -> T
    ) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if !isAutocommit { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Transaction kinds (`BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE`).
    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED"
        case immediate = "IMMEDIATE"
        case exclusive = "EXCLUSIVE"
    }

    /// Whether no transaction is open.
    public var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    /// Rowid of the last INSERT.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The first column of the first row of a query, as an integer.
    public func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try cached(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : nil
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    static func summary(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3)
        return words.joined(separator: " ")
    }
}
