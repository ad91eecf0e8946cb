import SQLite

/// The database schema and its migrations (`PRAGMA user_version`).
///
/// Each migration runs in the transaction that bumps `user_version`, so a database is always
/// at one version or the next, never in between.
enum Schema {
    /// The version this build writes.
    static let currentVersion = 5

    /// Migration `i` takes the schema from version `i` to `i + 1`.
    static let migrations: [String] = [
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file_name TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            byte_size INTEGER NOT NULL,
            imported_at REAL NOT NULL,
            platform TEXT NOT NULL,
            webinar_id INTEGER,
            schedule INTEGER,
            date TEXT,
            timezone TEXT,
            delimiter TEXT NOT NULL,
            encoding TEXT NOT NULL,
            header BLOB NOT NULL,
            overrides BLOB NOT NULL,
            rows INTEGER NOT NULL DEFAULT 0,
            queued INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX imports_content ON imports(content_hash, byte_size);

        CREATE TABLE targets (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            webinar_id INTEGER NOT NULL,
            schedule INTEGER NOT NULL,
            date TEXT NOT NULL DEFAULT '',
            checked_ok INTEGER,
            check_message TEXT,
            checked_at REAL,
            UNIQUE (platform, webinar_id, schedule, date)
        );

        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            import_id INTEGER NOT NULL REFERENCES imports(id),
            line INTEGER NOT NULL,
            state TEXT NOT NULL,
            target_id INTEGER REFERENCES targets(id),
            person INTEGER,
            row BLOB NOT NULL,
            duplicate_of INTEGER,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL,
            sent_at REAL,
            updated_at REAL
        );
        CREATE UNIQUE INDEX jobs_person ON jobs(person);
        CREATE INDEX jobs_queued ON jobs(id) WHERE state = 'queued';
        CREATE INDEX jobs_in_flight ON jobs(id) WHERE state = 'in_flight';
        CREATE INDEX jobs_uncertain ON jobs(id) WHERE state = 'uncertain';
        CREATE INDEX jobs_failed ON jobs(updated_at) WHERE state = 'failed';

        CREATE TABLE results (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            user_id INTEGER,
            live_room_url TEXT,
            replay_room_url TEXT,
            thank_you_url TEXT,
            password TEXT,
            date TEXT,
            timezone TEXT,
            source TEXT NOT NULL,
            registered_at REAL NOT NULL
        );
        CREATE INDEX results_time ON results(registered_at);
        """,
        // 2: `maybe_sent` (the job's last call may have reached the vendor: it is checked before
        // it is ever sent again, whatever `retry` or `import` do to it) and the runner's lease
        // (one runner per database, held in the database itself: no lock file or path trick
        // gets a second runner past it).
        """
        ALTER TABLE jobs ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0;
        UPDATE jobs SET maybe_sent = 1
            WHERE state IN ('uncertain', 'in_flight') OR (state = 'failed' AND error LIKE 'could not check%');
        CREATE TABLE runner_lease (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            token INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        );
        """,
        // 3: an import is identified by its bytes, target and mapping (the same file may go
        // into two webinars); the map it used is stored with it; `cancelled` jobs; a job's
        // `note` (what is worth knowing that is not an error).
        """
        ALTER TABLE imports ADD COLUMN ignored TEXT NOT NULL DEFAULT '';
        ALTER TABLE imports ADD COLUMN mapping TEXT;
        ALTER TABLE imports ADD COLUMN blank INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE imports ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
        DROP INDEX imports_content;
        CREATE INDEX imports_content ON imports(content_hash, byte_size);
        ALTER TABLE jobs ADD COLUMN note TEXT;
        CREATE INDEX jobs_duplicate_of ON jobs(duplicate_of) WHERE duplicate_of IS NOT NULL;
        """,
        // 4: when `bulkreg verify` last found the lead at the vendor.
        """
        ALTER TABLE results ADD COLUMN verified_at REAL;
        """,
        // 5: the call history (`CallRecord`): one row per API call (and per registrants-check
        // verdict), written in the transaction of the change it led to. Times in milliseconds
        // (wall clock), method and outcome as small integers: about 30 bytes a call.
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            ms INTEGER NOT NULL,
            job_id INTEGER,
            method INTEGER NOT NULL,
            outcome INTEGER NOT NULL,
            http INTEGER,
            attempt INTEGER,
            reason TEXT
        );
        CREATE INDEX calls_job ON calls(job_id) WHERE job_id IS NOT NULL;
        """,
    ]

    /// Refuses a database written by a newer bulkreg, before anything is written to it.
    static func checkVersion(_ connection: Connection, path: String) throws {
        let version = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
        if version > currentVersion {
            throw BulkRegError(
                .storage,
                "\(path): this database was written by a newer bulkreg (schema \(version); this "
                    + "version knows up to \(currentVersion)). Use the newer bulkreg, or another --db."
            )
        }
    }

    /// Brings `connection` to `currentVersion`, or explains why it cannot.
    static func migrate(_ connection: Connection, path: String) throws {
        try checkVersion(connection, path: path)
        let version = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
        guard version < currentVersion else { return }
        try connection.transaction(.exclusive) {
            // Re-read under the lock: another process may have migrated meanwhile.
            let now = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
            for index in now..<currentVersion {
                try connection.execute(migrations[index])
                // 3: the earlier imports' maps, by the rules they were imported with.
                if index == 2 { try LegacyFieldMap.storeMaps(connection) }
                try connection.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
