import Foundation
import SQLite
import TestSupport
import Testing

@Suite("Storage faults, through the binary", .serialized)
struct StorageFaultTests {
    @Test("a full disk (file-size limit) during import: exit 2, a clear message, no database left")
    func diskFull() async throws {
        let (ws, file) = Workspace.e2e(writing: "leads.csv", leadsCSV(count: 20_000))
        // 1024 blocks of 512 bytes: the database outgrows it; SIGXFSZ ignored so that the write
        // fails with EFBIG, as on a full disk, instead of killing the process.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" import \"$1\" --webinar 5 --schedule 34 --db \"$2\"",
            bulkregBinary.path, file, ws.db,
        ]
        let o = try await runToEnd(process)
        #expect(o.status == 2, "\(o.stdout) \(o.stderr)")
        #expect(o.stderr.contains(ws.db))
        #expect(o.stderr.contains("disk"), "\(o.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.db))
    }

    @Test("a database locked by another process: exit 2 naming the cause, nothing changed")
    func locked() async throws {
        let ws = Workspace.e2e()
        let first = ws.write("a.csv", leadsCSV(count: 3))
        #expect(try await bulkreg(["import", first, "--webinar", "5", "--schedule", "34", "--db", ws.db]).status == 0)
        let holder = try Connection(.path(ws.db))
        try holder.execute("BEGIN EXCLUSIVE")
        let second = ws.write("b.csv", leadsCSV(count: 5, extra: ["x@example.com,X,,"]))
        let o = try await bulkreg(["import", second, "--webinar", "5", "--schedule", "34", "--db", ws.db])
        try holder.execute("ROLLBACK")
        #expect(o.status == 2)
        #expect(o.stderr.contains("locked by another process"), "\(o.stderr)")
        let status = try await bulkreg(["status", "--json", "--db", ws.db])
        #expect(status.stdout.contains("\"total\":3"))
    }

    /// Every command that opens the database, with what it needs besides.
    func everyCommand(_ ws: Workspace, db: String) -> [[String]] {
        let more = ws.write("more.csv", leadsCSV(count: 2))
        return [
            ["status", "--db", db], ["status", "--json", "--db", db], ["export", ws.file("out.csv"), "--db", db],
            ["run", "--db", db, "--api-base", "http://127.0.0.1:9"], ["retry", "--db", db],
            ["import", more, "--webinar", "5", "--schedule", "34", "--db", db],
        ]
    }

    /// A database of `count` leads, checkpointed (no WAL beside it).
    func database(_ ws: Workspace, count: Int) async throws -> String {
        let file = ws.write("leads.csv", leadsCSV(count: count))
        let o = try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", ws.db])
        #expect(o.status == 0, "\(o.stderr)")
        return ws.db
    }

    @Test("an I/O error (EIO) says the disk failed and the database is probably intact, never 'corrupted'")
    func ioError() async throws {
        // Reading /proc/self/mem at offset 0 (an unmapped address) fails with EIO: SQLite sees an
        // I/O error on the first page, as on a failing disk.
        guard FileManager.default.isReadableFile(atPath: "/proc/self/mem") else { return }
        let o = try await bulkreg(["status", "--db", "/proc/self/mem"])
        #expect(o.status == 2, "\(o.stderr)")
        #expect(o.stderr.contains("the disk failed"), "\(o.stderr)")
        #expect(o.stderr.contains("do not restore an older copy"), "\(o.stderr)")
        #expect(!o.stderr.contains("corrupted"), "\(o.stderr)")
    }

    @Test(
        "a database corrupted in place (its schema page, or pages of its tables): every command exits 2, nothing written"
    )
    func corrupted() async throws {
        // Page 1 after SQLite's 100-byte header holds the schema; pages 2... the tables.
        for damage in ["schema", "tables"] {
            let ws = Workspace.e2e()
            let db = try await database(ws, count: 3_000)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: db))
            let size = try handle.seekToEnd()
            let pages = Int(size) / 4096
            #expect(pages > 20)
            if damage == "schema" {
                try handle.seek(toOffset: 100)
                handle.write(Data(repeating: 0xA5, count: 4096 - 100))
            } else {
                for page in stride(from: 2, to: pages, by: 2) {
                    try handle.seek(toOffset: UInt64(page * 4096))
                    handle.write(Data(repeating: 0xA5, count: 4096))
                }
            }
            try handle.close()
            let before = try Data(contentsOf: URL(fileURLWithPath: db))
            for command in everyCommand(ws, db: db) {
                let o = try await bulkreg(command, env: ["WEBINARJAM_API_KEY": "k3y-for-the-corruption-test"])
                #expect(o.status == 2, "\(damage) \(command[0]): \(o.status) \(o.stderr)")
                #expect(
                    o.stderr
                        == "bulkreg: \(db): is corrupted (database disk image is malformed); restore it from a backup or use another --db\n",
                    "\(damage) \(command[0]): \(o.stderr)"
                )
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "\(damage): the database changed")
            #expect(!FileManager.default.fileExists(atPath: ws.file("out.csv")))
        }
    }

    /// `setpriv`, to run the binary as `nobody` when the tests run as root (root ignores
    /// directory permissions).
    static let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let canDropRoot = geteuid() != 0 || setpriv != nil

    @Test(
        "a read-only database directory: every command exits 2 with a clear message, nothing changed",
        .enabled(if: canDropRoot, "running as root without setpriv")
    )
    func readOnlyDirectory() async throws {
        let ws = Workspace.e2e()
        let dir = ws.file("ro")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let file = ws.write("leads.csv", leadsCSV(count: 50))
        let db = dir + "/jobs.sqlite"
        #expect(try await bulkreg(["import", file, "--webinar", "5", "--schedule", "34", "--db", db]).status == 0)
        let asRoot = geteuid() == 0
        // `nobody` may not reach the build folder (a clone under /root): run a copy from here.
        let binary = ws.file("bulkreg")
        try FileManager.default.copyItem(atPath: bulkregBinary.path, toPath: binary)
        chmod(binary, 0o755)
        if asRoot {
            chown(db, 65534, 65534)
            chown(ws.path, 65534, 65534)
        }
        chmod(dir, 0o555)
        defer { chmod(dir, 0o755) }
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for command in everyCommand(ws, db: db) {
            let process = Process()
            if asRoot, let setpriv = Self.setpriv {
                process.executableURL = URL(fileURLWithPath: setpriv)
                process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + command
            } else {
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = command
            }
            process.environment = [
                "PATH": "/usr/bin:/bin", "HOME": ws.path, "WEBINARJAM_API_KEY": "k3y-for-the-read-only-test",
            ]
            let o = try await runToEnd(process)
            #expect(o.status == 2, "\(command[0]): \(o.status) \(o.stderr)")
            #expect(o.stderr.hasPrefix("bulkreg: \(db)"), "\(command[0]): \(o.stderr)")
            #expect(
                o.stderr.contains("read-only") || o.stderr.contains("Permission denied"),
                "\(command[0]): \(o.stderr)"
            )
            #expect(o.stderr.split(separator: "\n").count == 1, "\(command[0]): \(o.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the database changed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["jobs.sqlite"])
        #expect(!FileManager.default.fileExists(atPath: ws.file("out.csv")))
    }
}
