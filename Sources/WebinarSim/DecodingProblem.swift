import Foundation

/// A decoding error in a sentence, for the answer or message that refuses a JSON input: what
/// is missing or wrong, and where (`.webinars[0].schedules`, or `top level`).
enum DecodingProblem {
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.debugDescription) at \(path(context))"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.localizedDescription
            return underlying.map { "\(context.debugDescription) (\($0))" } ?? context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.isEmpty ? "top level" : text
    }
}
