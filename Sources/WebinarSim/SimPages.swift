/// The HTML pages and trouble envelopes of proxy, CDN and application trouble. Their text
/// follows what nginx and Cloudflare send, so a client's handling of a page that is not JSON
/// (and of a JSON error that is not about the request) can be tested against realistic bodies.
enum SimPages {
    /// The page a proxy or CDN answers with `status`; nginx style below 520, Cloudflare style
    /// for 520-524 (the CDN in front of the vendor).
    static func proxy(_ status: Int) -> SimAnswer {
        if let title = cloudflareTitles[status] {
            return SimAnswer(status: status, contentType: "text/html; charset=UTF-8", body: cloudflare(status, title))
        }
        let reason = nginxReasons[status] ?? "Error"
        return SimAnswer(status: status, contentType: "text/html", body: nginx(status, reason))
    }

    /// The rate limit as an nginx page (`limit_req` with a 429 status), no JSON.
    static let rateLimit = SimAnswer(status: 429, contentType: "text/html", body: nginx(429, "Too Many Requests"))

    /// An application trouble envelope, HTTP 200: `variant` 0-2 picks a message of
    /// ``SimFaults/troubleMessages``, 3 sends no message at all.
    static func trouble(_ variant: Int) -> SimAnswer {
        let messages = SimFaults.troubleMessages
        guard variant < messages.count else { return .error(200, []) }
        return .message(200, messages[variant])
    }

    /// Number of ``trouble(_:)`` variants to draw from.
    static var troubleVariants: Int { SimFaults.troubleMessages.count + 1 }

    private static let nginxReasons: [Int: String] = [
        408: "Request Time-out", 425: "Too Early", 500: "Internal Server Error", 502: "Bad Gateway",
        503: "Service Temporarily Unavailable", 504: "Gateway Time-out",
    ]

    private static let cloudflareTitles: [Int: String] = [
        520: "Web server is returning an unknown error", 521: "Web server is down", 522: "Connection timed out",
        523: "Origin is unreachable", 524: "A timeout occurred",
    ]

    private static func nginx(_ status: Int, _ reason: String) -> String {
        """
        <html>
        <head><title>\(status) \(reason)</title></head>
        <body>
        <center><h1>\(status) \(reason)</h1></center>
        <hr><center>nginx</center>
        </body>
        </html>

        """
    }

    private static func cloudflare(_ status: Int, _ title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en-US">
        <head>
        <title>api.webinarjam.com | \(status): \(title)</title>
        <meta charset="UTF-8" />
        <meta name="robots" content="noindex, nofollow" />
        </head>
        <body>
        <div id="cf-wrapper">
        <div id="cf-error-details" class="cf-error-details-wrapper">
        <h1><span class="cf-error-type">\(title)</span> <span class="code-label">Error code \(status)</span></h1>
        <p>Visit <a href="https://www.cloudflare.com/5xx-error-landing">cloudflare.com</a> for more information.</p>
        </div>
        <div class="cf-error-footer"><p>Cloudflare Ray ID: <strong class="font-semibold">8f2a6c1d9b3e4a7f</strong></p></div>
        </div>
        </body>
        </html>

        """
    }
}
