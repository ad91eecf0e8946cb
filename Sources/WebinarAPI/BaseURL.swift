import Foundation

/// Why an API base URL was refused by ``HTTPWebinarAPI/validateBaseURL(_:)``.
public enum BaseURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not a URL with a scheme and a host.
    case unparsable(String)
    /// The scheme is neither `https` nor `http`.
    case unsupportedScheme(String)
    /// Plain `http://` to a host that is not loopback (127.0.0.0/8, ::1, localhost).
    case insecureRemoteHost(String)
    /// The URL carries a user name or password, a query or a fragment.
    case unexpectedComponents(String)

    /// A message fit for the user (names the problem and the fix).
    public var description: String {
        switch self {
        case .unparsable(let text):
            return "API base URL '\(text)' is not a valid URL (expected e.g. https://api.webinarjam.com)"
        case .unsupportedScheme(let scheme):
            return "API base URL scheme '\(scheme)' is not supported: use https:// (http:// only to a loopback host)"
        case .insecureRemoteHost(let host):
            return
                "API base URL uses plain http:// to '\(host)': https:// is required except for a loopback host (127.0.0.1, ::1, localhost)"
        case .unexpectedComponents(let text):
            return "API base URL '\(text)' must not contain credentials, a query or a fragment"
        }
    }
}

extension HTTPWebinarAPI {
    /// Checks an API base URL and returns it normalised (lower-cased scheme, no trailing `/`).
    ///
    /// `https://` is required; plain `http://` is accepted only to a loopback host
    /// (`127.0.0.0/8`, `::1`, `localhost`), which is what the simulator listens on.
    /// A path prefix is kept (`https://proxy.example/webinarjam-api`); credentials, a query or a
    /// fragment are refused.
    /// - Throws: ``BaseURLError`` with a user-facing description.
    public static func validateBaseURL(_ text: String) throws(BaseURLError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed),
            let rawScheme = components.scheme, !rawScheme.isEmpty,
            let rawHost = components.host, !rawHost.isEmpty
        else {
            throw .unparsable(trimmed)
        }
        if components.user != nil || components.password != nil || components.query != nil
            || components.fragment != nil
        {
            throw .unexpectedComponents(redactUserInfo(trimmed))
        }
        let scheme = rawScheme.lowercased()
        switch scheme {
        case "https":
            break
        case "http":
            guard isLoopbackHost(rawHost) else { throw .insecureRemoteHost(rawHost) }
        default:
            throw .unsupportedScheme(rawScheme)
        }
        var normalized = scheme + "://"
        let host = rawHost.lowercased()
        normalized += host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port = components.port { normalized += ":\(port)" }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        normalized += path
        return normalized
    }

    /// Whether `host` names the local machine: `localhost`, `127.x.y.z` or `::1`.
    static func isLoopbackHost(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                let value = Int(part)
            else { return false }
            return (0...255).contains(value)
        }
    }

    private static func redactUserInfo(_ text: String) -> String {
        guard let at = text.firstIndex(of: "@"), let scheme = text.range(of: "://"),
            scheme.upperBound < at
        else { return text }
        return String(text[..<scheme.upperBound]) + "…" + String(text[at...])
    }
}
