/// A single-byte ASCII field delimiter.
///
/// Any ASCII byte except `"`, CR, LF and NUL is accepted; the common ones are predefined.
public struct CSVDelimiter: Sendable, Hashable, CustomStringConvertible {
    /// The delimiter byte.
    public let byte: UInt8

    /// `,` (RFC 4180, Mailchimp, HubSpot, Excel in English locales).
    public static let comma = CSVDelimiter(unchecked: UInt8(ascii: ","))
    /// `;` (Excel in locales that use a decimal comma).
    public static let semicolon = CSVDelimiter(unchecked: UInt8(ascii: ";"))
    /// Horizontal tab (Excel "Unicode Text", TSV).
    public static let tab = CSVDelimiter(unchecked: UInt8(ascii: "\t"))
    /// `|`.
    public static let pipe = CSVDelimiter(unchecked: UInt8(ascii: "|"))

    /// The candidates tried, in order of preference, when sniffing.
    public static let sniffCandidates: [CSVDelimiter] = [.comma, .semicolon, .tab, .pipe]

    /// Creates a delimiter from an ASCII byte; `nil` for non-ASCII, `"`, CR, LF or NUL.
    /// - Parameter byte: The delimiter byte.
    public init?(byte: UInt8) {
        guard byte != 0, byte < 0x80, byte != UInt8(ascii: "\""), byte != 0x0A, byte != 0x0D else {
            return nil
        }
        self.byte = byte
    }

    /// Creates a delimiter from a one-byte ASCII character; `nil` if it is not allowed.
    /// - Parameter character: The delimiter character, e.g. `";"` or `"\t"`.
    public init?(_ character: Character) {
        guard let ascii = character.asciiValue else { return nil }
        self.init(byte: ascii)
    }

    private init(unchecked byte: UInt8) { self.byte = byte }

    /// The delimiter as a `Character`.
    public var character: Character { Character(Unicode.Scalar(byte)) }

    /// A readable name: `","`, `";"`, `"tab"`, `"|"`, ...
    public var description: String { byte == 0x09 ? "tab" : String(character) }
}

/// The text encoding detected by ``CSVReader``. Values are always delivered as UTF-8 strings.
public enum CSVEncoding: Sendable, Hashable, CustomStringConvertible {
    /// UTF-8 (with or without BOM; plain ASCII is reported as UTF-8).
    case utf8
    /// UTF-16 little-endian (Excel "Unicode Text" on Windows), with or without BOM.
    case utf16LittleEndian
    /// UTF-16 big-endian, with or without BOM.
    case utf16BigEndian
    /// Windows-1252, never detected, only given (``CSVReaderOptions/encoding``): Excel's
    /// "CSV (Comma delimited)" on Windows in Western locales.
    case windows1252
    /// Mac OS Roman, never detected, only given: Excel's "CSV (Macintosh)".
    case macRoman

    /// `"UTF-8"`, `"UTF-16LE"`, `"UTF-16BE"`, `"Windows-1252"` or `"MacRoman"`.
    public var description: String {
        switch self {
        case .utf8: return "UTF-8"
        case .utf16LittleEndian: return "UTF-16LE"
        case .utf16BigEndian: return "UTF-16BE"
        case .windows1252: return "Windows-1252"
        case .macRoman: return "MacRoman"
        }
    }

    /// The names ``init(name:)`` accepts, one per encoding, for help and error messages.
    public static let names = ["utf-8", "utf-16le", "utf-16be", "windows-1252", "macroman"]

    /// An encoding from its name, case-insensitively: `utf-8`, `utf-16le`, `utf-16be`,
    /// `windows-1252` (also `cp1252`, and `latin1`/`iso-8859-1`, which in practice mean
    /// Windows-1252, as browsers treat them), `macroman` (also `mac`, `macintosh`,
    /// `x-mac-roman`); `nil` for anything else.
    public init?(name: String) {
        switch String(name.lowercased().map { $0 == "_" ? "-" : $0 }) {
        case "utf-8", "utf8": self = .utf8
        case "utf-16le", "utf16le": self = .utf16LittleEndian
        case "utf-16be", "utf16be": self = .utf16BigEndian
        case "windows-1252", "cp1252", "win-1252", "latin1", "latin-1", "iso-8859-1", "iso8859-1": self = .windows1252
        case "macroman", "mac-roman", "mac", "macintosh", "x-mac-roman": self = .macRoman
        default: return nil
        }
    }

    /// The code points of bytes 0x80–0xFF for a single-byte encoding, `nil` otherwise.
    var highHalf: [UInt16]? {
        switch self {
        case .windows1252: return SingleByteTables.windows1252
        case .macRoman: return SingleByteTables.macRoman
        case .utf8, .utf16LittleEndian, .utf16BigEndian: return nil
        }
    }
}

/// Configuration of a ``CSVReader``.
///
/// The caps bound memory on hostile input: the reader never holds more than
/// `chunkSize` (×1.5 for UTF-16) + `maxRecordBytes` + `8 × maxFields` bytes of buffers,
/// whatever the file size.
public struct CSVReaderOptions: Sendable, Hashable {
    /// The field delimiter, or `nil` to sniff it among `,` `;` tab `|` from the first lines
    /// (the one with a consistent non-zero count outside quotes wins; default `,`).
    public var delimiter: CSVDelimiter?
    /// The input's encoding, or `nil` (default) to detect it: a BOM, else UTF-16 by its zero
    /// bytes, else UTF-8. Single-byte encodings (Windows-1252, Mac Roman) cannot be told from
    /// UTF-8 reliably and are only used when given.
    public var encoding: CSVEncoding?
    /// Bytes per `read(2)` (and per slice of in-memory input). Default 128 KiB. Tests use tiny
    /// values to exercise chunk boundaries; any value ≥ 1 works.
    public var chunkSize: Int
    /// Maximum decoded size in bytes of one field. Default 1 MiB: Excel caps a cell at
    /// 32,767 characters (≤ 96 KiB of UTF-8) and no lead field comes close, yet the cap stays
    /// far below anything that could hurt memory. Raise it for unusual files.
    public var maxFieldBytes: Int
    /// Maximum decoded size in bytes of one record (all fields). Default 16 MiB.
    public var maxRecordBytes: Int
    /// Maximum number of fields in one record. Default 16,384, Excel's column limit (XFD).
    public var maxFields: Int

    /// Default `chunkSize` (128 KiB).
    public static let defaultChunkSize = 128 * 1024
    /// Default `maxFieldBytes` (1 MiB).
    public static let defaultMaxFieldBytes = 1 << 20
    /// Default `maxRecordBytes` (16 MiB).
    public static let defaultMaxRecordBytes = 16 << 20
    /// Default `maxFields` (16,384).
    public static let defaultMaxFields = 16_384

    /// Creates reader options.
    /// - Parameters:
    ///   - delimiter: An explicit delimiter, or `nil` (default) to sniff.
    ///   - encoding: The input's encoding, or `nil` (default) to detect it.
    ///   - chunkSize: Bytes per read, ≥ 1.
    ///   - maxFieldBytes: Cap on one decoded field, ≥ 1.
    ///   - maxRecordBytes: Cap on one decoded record, ≥ 1.
    ///   - maxFields: Cap on the number of fields of one record, ≥ 1.
    public init(
        delimiter: CSVDelimiter? = nil,
        encoding: CSVEncoding? = nil,
        chunkSize: Int = CSVReaderOptions.defaultChunkSize,
        maxFieldBytes: Int = CSVReaderOptions.defaultMaxFieldBytes,
        maxRecordBytes: Int = CSVReaderOptions.defaultMaxRecordBytes,
        maxFields: Int = CSVReaderOptions.defaultMaxFields
    ) {
        self.delimiter = delimiter
        self.encoding = encoding
        self.chunkSize = chunkSize
        self.maxFieldBytes = maxFieldBytes
        self.maxRecordBytes = maxRecordBytes
        self.maxFields = maxFields
    }
}

/// One parsed record.
public struct CSVRecord: Sendable, Hashable {
    /// The field values, unquoted and unescaped, as valid UTF-8 strings. Quoted line breaks
    /// are kept exactly as they appear in the file (`\n`, `\r\n` or `\r`).
    public var fields: [String]
    /// The 1-based physical line on which the record starts.
    public var line: Int

    /// Creates a record.
    /// - Parameters:
    ///   - fields: The field values.
    ///   - line: The 1-based line where the record starts.
    public init(fields: [String], line: Int) {
        self.fields = fields
        self.line = line
    }
}
