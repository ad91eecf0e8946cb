#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The command line's system calls that differ by platform, in one place.
enum SystemCalls {
    /// Writes all of `text` to `fd` (retrying short writes); false on the first failure, with
    /// `errno` set.
    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var copy = text
        return copy.withUTF8 { buf in
            var offset = 0
            while offset < buf.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                #else
                let n = Darwin.write(fd, buf.baseAddress! + offset, buf.count - offset)
                #endif
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }
}
