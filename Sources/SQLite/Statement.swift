import CSQLite

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement; finalized when released.
public final class Statement {
    /// The raw handle.
    public let handle: OpaquePointer
    private unowned let connection: Connection
    private let summary: String

    init(connection: Connection, sql: String) throws(SQLiteError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(
            connection.handle,
            sql,
            -1,
            UInt32(SQLITE_PREPARE_PERSISTENT),
            &stmt,
            nil
        )
        guard rc == SQLITE_OK, let stmt else {
            throw SQLiteError(
                code: .init(rc),
                message: connection.lastMessage,
                operation: "prepare \(Connection.summary(sql))"
            )
        }
        self.handle = stmt
        self.connection = connection
        self.summary = Connection.summary(sql)
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and clears its bindings.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: binding (1-based indexes, like SQLite)

    /// Binds a value to a 1-based parameter index; nil binds NULL.
    public func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        var text = value
        let rc = text.withUTF8 { buf -> Int32 in
            let base = UnsafeRawPointer(buf.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            return sqlite3_bind_text(
                handle,
                index,
                base.assumingMemoryBound(to: CChar.self),
                Int32(buf.count),
                SQLITE_TRANSIENT
            )
        }
        try check(rc)
    }

    /// Binds an integer; nil binds NULL.
    public func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try check(sqlite3_bind_int64(handle, index, value))
    }

    /// Binds an integer; nil binds NULL.
    public func bind(_ index: Int32, _ value: Int?) throws(SQLiteError) {
        try bind(index, value.map(Int64.init))
    }

    /// Binds a double; nil binds NULL.
    public func bind(_ index: Int32, _ value: Double?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// Binds bytes as a BLOB; nil binds NULL.
    public func bind(_ index: Int32, blob value: [UInt8]?) throws(SQLiteError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try bind(index, bytes: value)
    }

    /// Binds bytes as a BLOB (copied by SQLite).
    public func bind(_ index: Int32, bytes value: [UInt8]) throws(SQLiteError) {
        try bind(index, bytes: value, range: value.indices)
    }

    /// Binds a slice of bytes as a BLOB (copied by SQLite).
    public func bind(_ index: Int32, bytes value: [UInt8], range: Range<Int>) throws(SQLiteError) {
        let rc = value.withUnsafeBytes { buf in
            sqlite3_bind_blob64(
                handle,
                index,
                (buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!) + range.lowerBound,
                sqlite3_uint64(range.count),
                SQLITE_TRANSIENT
            )
        }
        try check(rc)
    }

    /// Binds values in order from index 1.
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .null: try check(sqlite3_bind_null(handle, index))
            case .int(let v): try bind(index, v)
            case .double(let v): try bind(index, v)
            case .text(let v): try bind(index, v)
            case .blob(let v): try bind(index, blob: v)
            }
        }
    }

    // MARK: stepping

    /// Advances: true when a row is available, false when done.
    @discardableResult
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            throw SQLiteError(
                code: .init(rc),
                message: connection.lastMessage,
                operation: "step \(summary)"
            )
        }
    }

    /// Binds, runs to completion, and resets.
    public func run(_ values: [SQLiteValue] = []) throws(SQLiteError) {
        reset()
        try bind(values)
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    // MARK: columns (0-based indexes, like SQLite)

    /// Whether a column of the current row is NULL.
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// An integer column (0 for NULL).
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// An integer column.
    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    /// An optional integer column.
    public func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }

    /// A double column.
    public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    /// An optional double column.
    public func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    /// A text column (nil for NULL).
    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// A blob column's bytes, valid until the next step/reset (no copy).
    public func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let count = Int(sqlite3_column_bytes(handle, column))
        let pointer = sqlite3_column_blob(handle, column)
        return try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK {
            throw SQLiteError(code: .init(rc), message: connection.lastMessage, operation: "bind \(summary)")
        }
    }
}

/// A value to bind.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .null }

    /// Text or NULL.
    public static func text(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    /// Integer or NULL.
    public static func int(_ value: Int?) -> SQLiteValue { value.map { .int(Int64($0)) } ?? .null }
    /// Double or NULL.
    public static func double(_ value: Double?) -> SQLiteValue { value.map { .double($0) } ?? .null }
}
