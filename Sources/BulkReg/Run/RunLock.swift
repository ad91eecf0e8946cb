import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One runner per database: an exclusive `flock` on `DB.lock`, which the kernel releases
/// when the process dies, however it dies. The file holds the holder's pid (for the message
/// to a second runner) and the wall-clock time of the holder's latest API call, so that a run
/// started right after a killed one does not put its first calls into the same vendor second
/// as the dead run's last ones (see `previousCallAt`).
public final class RunLock: Sendable {
    private let fd: Int32
    public let path: String
    /// When the previous holder last started an API call (wall clock), if it recorded one.
    public let previousCallAt: Double?

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
            let firstLine = n > 0 ? buffer[0..<n].prefix { $0 != UInt8(ascii: "\n") } : []
            let pid = firstLine.isEmpty ? "unknown" : String(decoding: firstLine, as: UTF8.self).trimmingSpaces
            throw BulkRegError(
                .storage,
                "\(databasePath): another bulkreg is working on this database (pid \(pid)). "
                    + "Wait for it to finish or stop it; one runner per database.")
        }
        var previous = [UInt8](repeating: 0, count: 24)
        let n = pread(fd, &previous, 24, 16)
        previousCallAt = n == 24 ? Double(String(decoding: previous, as: UTF8.self).trimmingSpaces) : nil
        let pid = "\(getpid())\n".padding(toLength: 16, withPad: " ", startingAt: 0)
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    /// Records the start of an API call (no fsync: it only has to outlive the process, not the
    /// machine; after a power loss the next run starts more than a second later anyway).
    public func recordCall(at wall: Double) {
        var text = String(format: "%23.6f\n", wall)
        text.withUTF8 { buf in _ = pwrite(fd, buf.baseAddress, min(buf.count, 24), 16) }
    }

    deinit {
        // The file stays (with the last call's time, for the next run); the lock goes.
        flock(fd, LOCK_UN)
        close(fd)
    }
}

extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init))
    }
}
