#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the runner's lease knows of processes: whether a pid is alive on this machine, and
/// the machine's name (a lease from another host is judged by its heartbeat alone).
package enum LeaseProcess {
    /// True when `pid` names a live process (EPERM: alive, owned by someone else). A zombie
    /// (exited, not yet reaped by its parent: `kill(pid, 0)` succeeds on it) is not alive.
    package static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        return !isZombie(pid)
    }

    /// True when `pid` has exited and waits to be reaped (a zombie: `kill(pid, 0)` still
    /// succeeds on it), as `/proc/PID/stat` says; false where there is no `/proc`.
    package static func isZombie(_ pid: Int32) -> Bool {
        guard pid > 0, let fd = Optional(open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)), fd >= 0 else { return false }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return false }
        // "PID (command) S ...": the state follows the last ')' (a command may hold one).
        let text = buffer[0..<n]
        guard let close = text.lastIndex(of: UInt8(ascii: ")")), close + 2 < n else { return false }
        let state = text[close + 2]
        return state == UInt8(ascii: "Z") || state == UInt8(ascii: "X")
    }

    /// This machine's host name.
    package static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
