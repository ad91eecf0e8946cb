#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One runner per database: an exclusive `flock` on `DB.lock`, which the kernel releases
/// when the process dies, however it dies. The file holds the holder's pid for the message.
public final class RunLock: Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock, or explains who holds it.
    public init(databasePath: String) throws {
        path = databasePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BulkRegError(.storage, "\(path): cannot create the run lock: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 31, 0)
            close(fd)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingSpaces : "unknown"
            throw BulkRegError(
                .storage,
                "\(databasePath): another bulkreg is working on this database (pid \(pid)). "
                    + "Wait for it to finish or stop it; one runner per database.")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init))
    }
}
