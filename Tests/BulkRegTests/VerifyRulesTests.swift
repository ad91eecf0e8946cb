import Testing
import WebinarAPI

@testable import BulkReg

@Suite("verify: what is the same attendee link, which job a row is")
struct VerifyRulesTests {
    @Test(
        "a link written another way is the same attendee; another path is another link",
        arguments: [
            ("https://event.webinarjam.com/go/live/5/abc123", "https://event.webinarjam.com/go/live/5/abc123", true),
            (
                "https://event.webinarjam.com/go/live/5/abc123",
                "http://EVENT.webinarjam.com/go/live/5/abc123/?lead_id=9", true
            ),
            (
                "https://event.webinarjam.com/go/live/5/abc123", "https://event.webinarjam.com/go/live/5/abc123#top",
                true
            ),
            ("https://event.webinarjam.com/go/live/5/abc123", "https://event.webinarjam.com/go/live/5/xyz789", false),
            ("https://event.webinarjam.com/go/live/5/abc123", "https://event.webinarjam.com/go/live/5/ABC123", false),
            ("https://event.webinarjam.com/go/live/5/abc123", "https://event.webinarjam.com/go/live/6/abc123", false),
            ("https://event.webinarjam.com/go/live/5/abc123", "", false),
            ("", " ", true),
        ] as [(String, String, Bool)]
    )
    func sameLink(a: String, b: String, same: Bool) {
        #expect(AttendeeLink.same(a, b) == same)
        #expect(AttendeeLink.same(b, a) == same)
    }

    func job(_ id: Int, _ date: String? = nil) -> VerifyStore.DoneJob {
        VerifyStore.DoneJob(id: id, email: "a@example.com", date: date, liveRoomURL: nil, replayRoomURL: nil)
    }

    @Test("a row is the person's only job; among sessions, the one of its date; undated among several: not told apart")
    func rowMatch() {
        #expect(Verifier.match(rowDate: nil, platform: .webinarjam, candidates: [job(1)]) == .job(1))
        #expect(Verifier.match(rowDate: nil, platform: .webinarjam, candidates: []) == .none)
        let sessions = [job(1, "2024-01-05 19:00"), job(2, "2024-01-06 19:00")]
        #expect(Verifier.match(rowDate: "2024-01-06 19:00:00", platform: .everwebinar, candidates: sessions) == .job(2))
        #expect(Verifier.match(rowDate: "2024-01-07 19:00", platform: .everwebinar, candidates: sessions) == .none)
        #expect(Verifier.match(rowDate: nil, platform: .everwebinar, candidates: sessions) == .ambiguous)
        #expect(
            Verifier.match(rowDate: nil, platform: .everwebinar, candidates: [job(3, "2024-01-05 19:00")]) == .job(3)
        )
    }
}
