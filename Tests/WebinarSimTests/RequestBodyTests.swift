import Testing
import WebinarSim

/// Request bodies are read with Hummingbird's `collectBody(upTo:)`: up to 1 MiB, a larger one
/// is refused without being stored.
@Suite("Simulator: request bodies")
struct RequestBodyTests {
    @Test("a body over 1 MiB is refused (400, nothing stored); one just under it is read")
    func bodyCap() async throws {
        try await withSimulator(SimulatorConfig()) { sim, client in
            let padding = String(repeating: "x", count: 1024 * 1024)
            let huge = try await client.post(
                "/webinarjam/register",
                [
                    ("webinar_id", "5"), ("schedule", "34"), ("first_name", "A"), ("email", "a@example.com"),
                    ("pad", padding),
                ]
            )
            #expect(huge.status == 400 && huge.body.contains("could not be read"))
            let config = try await client.send(
                "/__sim/config",
                method: .POST,
                body: "{\"pad\": \"" + padding + "\"}",
                contentType: "application/json"
            )
            #expect(config.status == 413)
            let small = try await client.post(
                "/webinarjam/register",
                [
                    ("webinar_id", "5"), ("schedule", "34"), ("first_name", "B"), ("email", "b@example.com"),
                    ("pad", "y"),
                ]
            )
            #expect(small.status == 200)
            #expect(await sim.registrations().map(\.email) == ["b@example.com"])
        }
    }
}
