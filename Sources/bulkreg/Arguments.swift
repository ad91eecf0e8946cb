import ArgumentParser
import BulkReg
import CSV
import WebinarAPI
import WebinarSim

// Typed option values: each is parsed once, by the argument parser, from the option's text
// (`@Option(transform: T.parse)`); a bad value is a usage error (exit 2) that names the
// option, the value and what is expected.

/// What a value's text should have been, for the parser's "The value 'x' is invalid for
/// '--option <value>': expected …".
struct ExpectedValue: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `--delimiter`: auto, or one of , ; tab |.
struct DelimiterArgument: Sendable, Equatable {
    /// nil: sniffed from the file.
    var delimiter: CSVDelimiter?

    static let auto = DelimiterArgument(delimiter: nil)

    static func parse(_ text: String) throws -> DelimiterArgument {
        switch text.lowercased() {
        case "auto": return .auto
        case ",", "comma": return DelimiterArgument(delimiter: .comma)
        case ";", "semicolon": return DelimiterArgument(delimiter: .semicolon)
        case "tab", "\\t", "\t": return DelimiterArgument(delimiter: .tab)
        case "|", "pipe": return DelimiterArgument(delimiter: .pipe)
        default: throw ExpectedValue("expected auto, ',', ';', tab or '|'")
        }
    }
}

/// `--encoding`: auto, or a named encoding.
struct EncodingArgument: Sendable, Equatable {
    /// nil: detected from the file.
    var encoding: CSVEncoding?

    static let auto = EncodingArgument(encoding: nil)

    static func parse(_ text: String) throws -> EncodingArgument {
        if text.lowercased() == "auto" { return .auto }
        guard let encoding = CSVEncoding(name: text) else {
            throw ExpectedValue("expected auto, " + CSVEncoding.names.joined(separator: ", "))
        }
        return EncodingArgument(encoding: encoding)
    }
}

/// `--map FIELD=HEADER`: a name, `=`, a non-empty value.
struct FieldPair: Sendable, Equatable {
    var field: String
    var value: String

    static func parse(_ text: String) throws -> FieldPair {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
            throw ExpectedValue("expected FIELD=HEADER, e.g. --map email=\"E-mail Address\"")
        }
        return FieldPair(field: String(text[..<eq]), value: String(text[text.index(after: eq)...]))
    }
}

extension JobState {
    static func parse(_ text: String) throws -> JobState {
        guard let state = JobState(rawValue: text) else {
            throw ExpectedValue("expected one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return state
    }
}

extension DuplicatePolicy {
    static func parse(_ text: String) throws -> DuplicatePolicy {
        switch text.lowercased() {
        case "same-user", "sameuser": return .sameUser
        case "new-user", "newuser": return .newUser
        case "error": return .error
        default: throw ExpectedValue("expected same-user, new-user or error")
        }
    }
}

extension SimRateLimitAnswer {
    static func parse(_ text: String) throws -> SimRateLimitAnswer {
        guard let answer = SimRateLimitAnswer(rawValue: text.lowercased()) else {
            throw ExpectedValue("expected plain, json, json-200 or html")
        }
        return answer
    }
}

extension OneClickLink.Autoresponder {
    static func parse(_ text: String) throws -> OneClickLink.Autoresponder {
        guard let autoresponder = OneClickLink.Autoresponder(name: text) else {
            throw ExpectedValue("expected one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return autoresponder
    }
}
