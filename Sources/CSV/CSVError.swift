#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error raised by ``CSVReader`` or ``CSVWriter``.
///
/// The ``message`` never contains field contents (they may be personal data) and never
/// contains the file path: the caller is expected to prefix it, e.g. `"\(path): \(error)"`.
public struct CSVError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The kind of failure.
    public enum Code: Sendable, Hashable {
        /// A quoted field was still open at end of input. ``CSVError/line`` is the line where
        /// the quote opened.
        case unterminatedQuote
        /// A record contains bytes that are not valid UTF-8 (the reader rejects rather than
        /// replaces them).
        case invalidUTF8
        /// A UTF-16 input contains an unpaired surrogate or an odd trailing byte.
        case invalidUTF16
        /// A record contains a NUL byte (usually a binary file or undetected UTF-16).
        case nulByte
        /// One field exceeds ``CSVReaderOptions/maxFieldBytes``.
        case fieldTooLarge
        /// One record exceeds ``CSVReaderOptions/maxRecordBytes``.
        case recordTooLarge
        /// One record has more than ``CSVReaderOptions/maxFields`` fields.
        case tooManyFields
        /// A system call failed with this `errno` (open, read, write, ...).
        case io(errno: Int32)
        /// The path names a directory, socket or other non-readable object.
        case notAFile
        /// An option value is out of range (bad delimiter, non-positive chunk size or cap).
        case invalidOption
    }

    /// The kind of failure.
    public let code: Code
    /// The 1-based physical line the error refers to, or `nil` when no line applies
    /// (for example a failed `open`).
    public let line: Int?
    /// A human-readable explanation, without field contents and without the file path.
    public let message: String

    /// Creates an error. Mostly for internal use and tests.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - line: The 1-based line the error refers to, if any.
    ///   - message: The explanation (must not include personal data or the path).
    public init(code: Code, line: Int?, message: String) {
        self.code = code
        self.line = line
        self.message = message
    }

    /// Same as ``message``.
    public var description: String { message }

    /// Whether ``CSVReader`` can continue after this error.
    ///
    /// Record-level errors (`invalidUTF8`, `invalidUTF16`, `nulByte`, `fieldTooLarge`,
    /// `recordTooLarge`, `tooManyFields`) are recoverable: the offending record is skipped and
    /// the next call to ``CSVReader/next()`` returns the following record. Other errors are
    /// sticky: every later call throws the same error again.
    public var isRecoverable: Bool {
        switch code {
        case .invalidUTF8, .invalidUTF16, .nulByte, .fieldTooLarge, .recordTooLarge, .tooManyFields:
            return true
        case .unterminatedQuote, .io, .notAFile, .invalidOption:
            return false
        }
    }

    static func io(_ err: Int32, _ what: String, line: Int? = nil) -> CSVError {
        let suffix = line.map { " at line \($0)" } ?? ""
        return CSVError(
            code: .io(errno: err),
            line: line,
            message: "\(what) failed\(suffix): \(errnoDescription(err)) (errno \(err))"
        )
    }
}

/// A stable, thread-safe description of common `errno` values (avoids `strerror`'s shared buffer).
func errnoDescription(_ err: Int32) -> String {
    switch err {
    case EPIPE: return "broken pipe"
    case ENOSPC: return "no space left on device"
    case ENOENT: return "no such file or directory"
    case EACCES: return "permission denied"
    case EISDIR: return "is a directory"
    case EIO: return "input/output error"
    case EBADF: return "bad file descriptor"
    case EDQUOT: return "disk quota exceeded"
    case EFBIG: return "file too large"
    case EAGAIN: return "resource temporarily unavailable"
    case EMFILE: return "too many open files"
    case ENAMETOOLONG: return "file name too long"
    case ENOTDIR: return "not a directory"
    case ELOOP: return "too many levels of symbolic links"
    case EROFS: return "read-only file system"
    default: return "system error"
    }
}
