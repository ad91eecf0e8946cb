import Foundation
import TestSupport
import Testing
import WebinarSim

// Nested in a serialized suite: run after its tests, not beside every other end-to-end
// suite at the start (two cores: the in-process simulators of the API tests starved).
extension ForgivingImportTests {
    /// `bulkreg verify` through the binary: the vendor's registrants after a session was edited
    /// (links reset) and after registrants were deleted.
    @Suite("verify, through the binary", .serialized)
    struct VerifyTests {
        let key = "e2e-key-0123456789"

        func verify(_ ws: Workspace, _ sim: RunningSimulator, _ extra: [String] = []) async throws -> Outcome {
            try await bulkreg(
                ["verify", "--db", ws.db, "--api-base", sim.baseURL, "--quiet"] + extra,
                env: ["WEBINARJAM_API_KEY": key]
            )
        }

        func exported(_ ws: Workspace) async throws -> [[String: String]] {
            let rows = csvRows(try await bulkreg(["export", "-", "--db", ws.db]).stdout)
            return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
        }

        @Test(
            "links reset at the vendor: --refresh stores them, thank-you cleared; 3 deleted: exit 3, failed, retry + run registers them once"
        )
        func resetAndDelete() async throws {
            let ws = try await workspace(leads: 45)
            try await withSimulator { config in
                // Pages of 7 (every page is read), and links written another way than register's.
                config.registrantsPerPage = 7
                config.registrantsLinkVariant = true
            } run: { sim in
                let env = ["WEBINARJAM_API_KEY": key]
                let run = try await bulkreg(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--settle-minimum", "2"],
                    env: env
                )
                #expect(run.status == 0, "\(run.stderr)")

                // A format difference is not a change.
                let first = try await verify(ws, sim)
                #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
                #expect(first.stdout.contains("45 registered leads, 45 confirmed, 0 links changed"), "\(first.stdout)")
                #expect(first.stdout.contains("(7 pages)"), "\(first.stdout)")
                #expect(try await exported(ws).allSatisfy { !($0["verified_at"] ?? "").isEmpty })

                // A session edited: every link of schedule 34 reset.
                #expect(await sim.resetLinks(platform: .webinarjam, webinarID: 5, schedule: 34) == 45)
                let noticed = try await verify(ws, sim)
                #expect(
                    noticed.status == 3 && noticed.stdout.contains("45 links changed (not stored: run with --refresh)"),
                    "\(noticed.stdout)"
                )
                let refreshed = try await verify(ws, sim, ["--refresh"])
                #expect(
                    refreshed.status == 0 && refreshed.stdout.contains("45 links changed (refreshed)"),
                    "\(refreshed.stdout)"
                )
                let byEmail = Dictionary(
                    uniqueKeysWithValues: await sim.registrations().map { ($0.email.lowercased(), $0) }
                )
                for row in try await exported(ws) {
                    let vendor = try #require(byEmail[row["Email Address"]!.lowercased()])
                    // The stored links are the vendor's current ones (as registrants writes them: the same attendee link).
                    #expect(
                        row["live_room_url"]!.hasSuffix(
                            String(vendor.liveRoomURL.split(separator: "/").last!) + "/?lead_id=\(vendor.userID)"
                        )
                    )
                    #expect(row["replay_room_url"]!.contains(String(vendor.replayRoomURL.split(separator: "/").last!)))
                    #expect(row["thank_you_url"] == "")
                    #expect(row["error"]!.contains("links changed at the vendor"), "\(row)")
                }
                #expect(try await verify(ws, sim).status == 0)

                // Three registrants deleted at the vendor.
                let gone = ["person3@example.com", "person17@example.com", "person44@example.com"]
                #expect(await sim.deleteRegistrants(platform: .webinarjam, webinarID: 5, emails: gone) == 3)
                let missing = try await verify(ws, sim)
                #expect(missing.status == 3, "\(missing.stdout)\n\(missing.stderr)")
                #expect(
                    missing.stdout.contains("42 confirmed") && missing.stdout.contains("3 not found at the vendor"),
                    "\(missing.stdout)"
                )
                let failed = try await exported(ws).filter { $0["status"] == "failed" }
                #expect(Set(failed.map { $0["Email Address"]! }) == Set(gone))
                #expect(
                    failed.allSatisfy {
                        $0["error"]!.hasPrefix("not found at the vendor (verify ") && $0["live_room_url"] == ""
                    }
                )

                let retry = try await bulkreg(["retry", "--db", ws.db])
                #expect(retry.status == 0, "\(retry.stderr)")
                let again = try await bulkreg(
                    ["run", "--db", ws.db, "--api-base", sim.baseURL, "--quiet", "--settle-minimum", "2"],
                    env: env
                )
                #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
                #expect(again.stdout.contains("run: 3 registered"), "\(again.stdout)")
                let stats = await sim.stats()
                for email in gone { #expect(stats.registerCallsByPerson[email] == 2, "\(email)") }
                #expect(stats.successfulRegisterCalls == 48)
                let current = await sim.registrations()
                #expect(current.count == 45 && Set(current.map { $0.email.lowercased() }).count == 45)
                let last = try await verify(ws, sim)
                #expect(last.status == 0 && last.stdout.contains("45 confirmed"), "\(last.stdout)")
            }
        }
    }
}
