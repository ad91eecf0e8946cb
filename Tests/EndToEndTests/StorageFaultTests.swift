import Foundation
import SQLite
import Testing

@Suite("Storage faults, through the binary", .serialized)
struct StorageFaultTests {
    @Test("a full disk (file-size limit) during import: exit 2, a clear message, no database left")
    func diskFull() async throws {
        let ws = Workspace()
        let file = ws.write("leads.csv", leadsCSV(count: 20_000))
        // 1024 blocks of 512 bytes: the database outgrows it; SIGXFSZ ignored so that the write
        // fails with EFBIG, as on a full disk, instead of killing the process.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" import \"$1\" --webinar 5 --schedule 34 --db \"$2\"",
            bulkregBinary.path, file, ws.db,
        ]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = await finish(process, out, err)
        #expect(o.status == 2, "\(o.stdout) \(o.stderr)")
        #expect(o.stderr.contains(ws.db))
        #expect(o.stderr.contains("disk"), "\(o.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.db))
    }

    @Test("a database locked by another process: exit 2 naming the cause, nothing changed")
    func locked() async throws {
        let ws = Workspace()
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
}
