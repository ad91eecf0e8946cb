import SQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens bulkreg databases: checks the path, sets the durability pragmas, migrates, and turns
/// every SQLite failure into a message that names the file and says what to do.
package enum Database {
    /// Whether the command may create a new database.
    package enum Mode: Sendable {
        /// `import`: create the file if missing.
        case create
        /// Every other command: the database must exist.
        case existing
    }

    /// Opens `path`, sets WAL + `synchronous=FULL` + a busy timeout, and migrates.
    package static func open(_ path: String, mode: Mode, busyTimeoutMilliseconds: Int32 = 5_000) throws -> Connection {
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw BulkRegError(.storage, "\(path): is a directory, not a database file (--db)")
            }
        } else if mode == .existing {
            throw BulkRegError(
                .storage,
                "\(path): no such database. Run `bulkreg import FILE.csv ...` first, or pass --db."
            )
        } else {
            let parent = directory(of: path)
            var parentInfo = stat()
            if stat(parent, &parentInfo) != 0 || (parentInfo.st_mode & S_IFMT) != S_IFDIR {
                throw BulkRegError(.storage, "\(path): the directory \(parent) does not exist")
            }
            if access(parent, W_OK) != 0 {
                throw BulkRegError(
                    .storage,
                    "\(path): cannot create the database: the directory \(parent) is not writable"
                )
            }
        }
        let connection: Connection
        do {
            connection = try Connection(
                .path(path),
                options: .init(create: mode == .create, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            )
            try checkReadable(connection)
            try Schema.checkVersion(connection, path: path)
            let journal = try connection.prepare("PRAGMA journal_mode = WAL")
            _ = try journal.step()
            let journalMode = journal.text(0) ?? ""
            if journalMode != "wal" {
                throw BulkRegError(
                    .storage,
                    "\(path): cannot switch the database to WAL mode (got \(journalMode)); is the directory writable?"
                )
            }
            // Foreign keys stay declared (documentation) but unenforced: every write path is
            // ours, and enforcing them costs two index look-ups per imported row.
            try connection.execute("PRAGMA synchronous = FULL")
        } catch let error as SQLiteError {
            throw storageError(error, path: path)
        }
        do {
            try Schema.migrate(connection, path: path)
        } catch let error as SQLiteError {
            throw storageError(error, path: path)
        }
        return connection
    }

    /// Reading the header page is what tells a SQLite file from anything else.
    private static func checkReadable(_ connection: Connection) throws(SQLiteError) {
        _ = try connection.scalarInt("SELECT count(*) FROM sqlite_master")
    }

    /// A user-facing message for a SQLite failure on `path`.
    package static func storageError(_ error: SQLiteError, path: String) -> BulkRegError {
        let hint: String
        switch error.code.primary {
        case .notADatabase: hint = "is not a bulkreg database (not a SQLite file, or encrypted)"
        case .corrupt: hint = "is corrupted (\(error.message)); restore it from a backup or use another --db"
        case .full:
            hint =
                "the disk is full: free some space and run the command again (nothing was half-written; the database "
                + "is intact: do not restore an older copy, it would send registered leads again)"
        case .readOnly: hint = "is read-only (file or directory permissions, or a read-only filesystem)"
        case .busy, .locked: hint = "is locked by another process (another bulkreg?); try again when it has finished"
        case .cannotOpen: hint = "cannot be opened (\(error.message)): check the path and its permissions"
        case .ioError:
            hint =
                "the disk failed (I/O error: \(error.message)); the database is probably intact. Check the disk, then run "
                + "the command again; do not restore an older copy: it would send registered leads again"
        case .permission: hint = "permission denied"
        default: return BulkRegError(.storage, "\(path): database error: \(error)")
        }
        return BulkRegError(.storage, "\(path): \(hint)")
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
