import Crypto
import Foundation
import Pacing

/// Where the budget of call starts shared by every bulkreg process that uses one API key
/// lives, and how a command joins it.
///
/// One file per key under `$XDG_STATE_HOME/bulkreg/` (default `~/.local/state/bulkreg/`),
/// named by the SHA-256 of the key (`<64 hex>.budget`), mode 0600, in a directory of mode
/// 0700. The file holds instants, counters, process ids, rates and labels (database paths,
/// command names): never the key nor anything else derived from it.
package enum KeyBudget {
    /// A joined budget, or why this process limits itself alone.
    package struct Joined: Sendable {
        /// Nil when the state directory cannot hold the file: the process keeps to its own rate.
        package let budget: SharedBudget?
        /// Said once on stderr when `budget` is nil.
        package let warning: String?
    }

    /// The state directory: `$XDG_STATE_HOME/bulkreg`, or `$HOME/.local/state/bulkreg`.
    package static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/bulkreg"
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.local/state/bulkreg"
    }

    /// The file name for `apiKey`: its SHA-256 in hex.
    package static func fileName(apiKey: String) -> String {
        SHA256.hash(data: Data(apiKey.utf8)).map { String(format: "%02x", $0) }.joined() + ".budget"
    }

    /// Joins the budget of `apiKey` with `rate` starts per second (0: not limited, not shared).
    /// - Parameter label: what other processes see of this one (a database path, a command).
    package static func join(
        apiKey: String,
        rate: Int,
        margin: Duration,
        label: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Joined {
        guard rate > 0 else { return Joined(budget: nil, warning: nil) }
        let fallback =
            "this process keeps to --rate on its own, and other bulkreg processes using the same API key are not counted"
        guard rate <= SharedBudget.capacity else {
            return Joined(
                budget: nil,
                warning:
                    "bulkreg: --rate \(rate) is above what the shared budget holds (\(SharedBudget.capacity)): \(fallback)."
            )
        }
        guard let directory = directory(environment: environment) else {
            return Joined(
                budget: nil,
                warning: "bulkreg: no HOME nor XDG_STATE_HOME for the shared rate budget: \(fallback)."
            )
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            return Joined(
                budget: nil,
                warning:
                    "bulkreg: cannot create \(directory) for the shared rate budget (\(reason(error))): \(fallback). "
                    + "Set XDG_STATE_HOME to a writable directory."
            )
        }
        let configuration = RateLimiterConfiguration(rate: rate, margin: margin)
        do {
            let budget = try SharedBudget(
                path: directory + "/" + fileName(apiKey: apiKey),
                bootID: SharedBudget.currentBootID(),
                now: SharedBudget.bootTimeNow(),
                configuration: configuration,
                label: label
            )
            return Joined(budget: budget, warning: nil)
        } catch {
            return Joined(
                budget: nil,
                warning: "bulkreg: cannot use the shared rate budget: \(error): \(fallback). "
                    + "Set XDG_STATE_HOME to a writable directory."
            )
        }
    }

    /// How a run names its database to the others: the absolute, resolved path.
    package static func label(forDatabase path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    /// The other processes drawing from the same key's budget as the one labelled `label`
    /// (a database path), found without the key: every budget file of the directory is read.
    package static func sharing(
        with label: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [SharedBudget.Participant] {
        guard let directory = directory(environment: environment),
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory)
        else { return [] }
        let boot = SharedBudget.currentBootID()
        let now = SharedBudget.bootTimeNow()
        for name in names where name.hasSuffix(".budget") {
            guard let all = SharedBudget.peek(path: directory + "/" + name, bootID: boot, now: now),
                let me = all.first(where: { $0.label == label })
            else { continue }
            return all.filter { $0 != me }
        }
        return []
    }

    /// "2 other bulkreg processes share this API key: /data/b.sqlite (pid 41), webinars (pid 77)".
    package static func describe(_ others: [SharedBudget.Participant]) -> String? {
        guard !others.isEmpty else { return nil }
        let list = others.map { "\($0.label) (pid \($0.pid))" }.joined(separator: ", ")
        let n = others.count
        return "\(n) other bulkreg process\(n == 1 ? "" : "es") share\(n == 1 ? "s" : "") this API key now: \(list)"
    }

    private static func reason(_ error: any Error) -> String {
        if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, underlying.code > 0 {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return error.localizedDescription
    }
}
