import Foundation

/// Tolerant accessors over `JSONSerialization` values.
enum LenientJSON {
    /// The top-level object of a JSON body, or nil when the body is not a JSON object.
    static func object(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// An integer from an int, an integral double or a numeric string (`"55"`, `" 55 "`).
    static func int(_ value: Any?) -> Int? {
        switch value {
        case let text as String:
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let number = Int(trimmed) { return number }
            if let number = Double(trimmed), number.rounded() == number, abs(number) < 1e15 { return Int(number) }
            return nil
        case let number as NSNumber:
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 1e15 else { return nil }
            return number.intValue
        default:
            return nil
        }
    }

    /// A non-empty string; numbers are rendered (`1234567890`), `null` and `""` are nil.
    static func string(_ value: Any?) -> String? {
        switch value {
        case let text as String:
            return text.isEmpty ? nil : text
        case let number as NSNumber:
            let double = number.doubleValue
            if double.rounded() == double, abs(double) < 1e15 { return String(number.int64Value) }
            return "\(double)"
        default:
            return nil
        }
    }
}
