import Foundation

/// Whether two room URLs are the same attendee's link. Pure; table-tested.
///
/// `register` and `registrants` may write one link differently (the scheme, the host's case,
/// a query naming the attendee by `lead_id` rather than `user_id`, a trailing slash). What
/// identifies the attendee is the link's path: its segments compared exactly, without the
/// scheme, host, query, fragment and an empty last segment. Two links with different paths
/// (a session edited: new tokens) are different links.
package enum AttendeeLink {
    /// True when `a` and `b` are the same attendee link (both missing counts as the same).
    package static func same(_ a: String?, _ b: String?) -> Bool {
        let left = identity(a)
        let right = identity(b)
        return left == right
    }

    /// The path segments that identify the attendee; empty for a missing or empty link.
    static func identity(_ link: String?) -> [Substring] {
        guard let link, !link.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        var rest = Substring(link.trimmingCharacters(in: .whitespaces))
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        // The host goes; the path stays as written.
        guard let slash = rest.firstIndex(of: "/") else { return [] }
        return rest[slash...].split(separator: "/", omittingEmptySubsequences: true)
    }
}
