import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One runner per database: an exclusive `flock` on `DB.lock`, which the kernel releases
/// when the process dies, however it dies. The file holds the holder's pid, for the message
/// to a second runner. (The last calls of a killed run are in the key's shared budget, which
/// every later process on the key respects: `KeyBudget`.)
package final class RunLock: Sendable {
    private let fd: Int32
    package let path: String

    /// Takes the lock, or explains who holds it.
    ///
    /// A holder that is dying (killed a moment ago: a restart loop starts the next run at
    /// once) lets go within milliseconds, so the lock is waited for up to `patience` before
    /// the refusal; a live runner is refused after that.
    package init(databasePath: String, patience: Duration = .milliseconds(500)) throws {
        // One lock per database file, whatever path reaches it (a symlink, `./db`): holding
        // it proves every earlier runner of this database on this host is gone.
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let real = realpath(databasePath, &resolved).map { _ in
            String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        path = (real ?? databasePath) + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BulkRegError(.storage, "\(path): cannot create the run lock: \(String(cString: strerror(errno)))")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: patience)
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        while !locked && clock.now < deadline {
            usleep(20_000)
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        if !locked {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 31, 0)
            close(fd)
            let firstLine = n > 0 ? buffer[0..<n].prefix { $0 != UInt8(ascii: "\n") } : []
            let pid = firstLine.isEmpty ? "unknown" : String(decoding: firstLine, as: UTF8.self).trimmingSpaces
            throw BulkRegError(
                .storage,
                "\(databasePath): another bulkreg is working on this database (pid \(pid)). "
                    + "Wait for it to finish or stop it; one runner per database."
            )
        }
        let pid = "\(getpid())\n".padding(toLength: 16, withPad: " ", startingAt: 0)
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit {
        // The file stays; the lock goes.
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init))
    }
}
