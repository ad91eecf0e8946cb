import ArgumentParser
import BulkReg
import Logging
import WebinarAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--db`, shared by every command.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The database file (default ./bulkreg.sqlite, or $BULKREG_DB).")
    var db: String?

    var path: String {
        if let db { return db }
        if let env = getenv("BULKREG_DB"), let value = String(validatingCString: env), !value.isEmpty {
            return value
        }
        return "./bulkreg.sqlite"
    }
}

/// `--api-base`, `--api-key-file`, timeouts: for commands that call the API.
struct APIOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "API base URL (default https://api.webinarjam.com, or $BULKREG_API_BASE). Plain http:// only to a loopback host."
    )
    var apiBase: String?

    @Option(
        name: .long,
        help: "Read the API key from this file (else $WEBINARJAM_API_KEY). Never pass the key itself as a flag."
    )
    var apiKeyFile: String?

    @Option(name: .long, help: "Seconds to wait for a connection.")
    var connectTimeout: Double = 10

    @Option(name: .long, help: "Seconds to wait for an answer.")
    var requestTimeout: Double = 30

    @Flag(name: .long, help: "Log each call (the key and personal data are never logged).")
    var verbose = false

    func validate() throws {
        guard connectTimeout > 0, requestTimeout > 0 else {
            throw ValidationError("--connect-timeout and --request-timeout must be positive")
        }
    }

    var baseURL: String {
        if let apiBase { return apiBase }
        if let env = getenv("BULKREG_API_BASE"), let value = String(validatingCString: env), !value.isEmpty {
            return value
        }
        return "https://api.webinarjam.com"
    }

    /// The key, from the file or the environment; warns when the file is readable by others.
    func apiKey() throws -> String {
        if let file = apiKeyFile {
            var info = stat()
            guard stat(file, &info) == 0 else {
                throw BulkRegError(.usage, "--api-key-file \(file): \(String(cString: strerror(errno)))")
            }
            if info.st_mode & 0o077 != 0 {
                Terminal.error(
                    "warning: \(file) is readable by other users (mode \(String(info.st_mode & 0o777, radix: 8))); run: chmod 600 \(file)"
                )
            }
            guard let fp = fopen(file, "r") else {
                throw BulkRegError(.usage, "--api-key-file \(file): \(String(cString: strerror(errno)))")
            }
            defer { fclose(fp) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buffer, 1, buffer.count, fp)
                if n <= 0 { break }
                bytes.append(contentsOf: buffer[0..<n])
                if bytes.count > 65536 { break }
            }
            let key = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
            guard !key.isEmpty else { throw BulkRegError(.auth, "--api-key-file \(file) is empty") }
            return key
        }
        if let env = getenv("WEBINARJAM_API_KEY"), let value = String(validatingCString: env) {
            let key = value.trimmingWhitespace()
            if !key.isEmpty { return key }
        }
        throw BulkRegError(
            .auth,
            "no API key: set WEBINARJAM_API_KEY or pass --api-key-file FILE (the key is in your WebinarJam dashboard, Advanced)"
        )
    }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

extension String {
    /// Without leading and trailing whitespace (Unicode), without Foundation.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.unicodeScalars.first, f.properties.isWhitespace { s = s.dropFirst() }
        while let l = s.unicodeScalars.last, l.properties.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

extension Platform: ExpressibleByArgument {}

/// Logging goes to stderr; only the executable bootstraps it.
enum LoggingSetup {
    nonisolated(unsafe) static var done = false
    static func bootstrap(verbose: Bool) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return handler
        }
    }
}
