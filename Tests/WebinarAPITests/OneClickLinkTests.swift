import Testing

@testable import WebinarAPI

private let series = WebinarDetail(
    webinarID: 16,
    webinarHash: "74qn4cw",
    type: "Series of presentations",
    schedules: [
        ScheduleInfo(schedule: 34, date: "2024-01-05 13:00", comment: "Friday, 5 Jan 2024, 01:00 PM"),
        ScheduleInfo(schedule: 46, date: "2024-01-06 14:00", comment: "Saturday, 6 Jan 2024, 02:00 PM"),
    ]
)

private let evergreen = WebinarDetail(
    webinarID: 6,
    webinarHash: "uvw1234",
    schedules: [
        ScheduleInfo(schedule: 54, date: "2024-01-04 12:00", comment: "Instant replay"),
        ScheduleInfo(schedule: 55, date: "2024-01-05 12:00", comment: "Just in time"),
        ScheduleInfo(schedule: 56, date: "2024-01-05 13:00", comment: "Every day, 01:00 PM"),
    ]
)

@Suite("One-click links")
struct OneClickLinkTests {
    @Test(
        "every autoresponder's merge tags, default fields",
        arguments: [
            (
                OneClickLink.Autoresponder.activeCampaign,
                "first_name=%FIRSTNAME%&last_name=%LASTNAME%&email=%EMAIL%"
            ),
            (
                .kartra,
                "first_name={first_name}&last_name={last_name}&email={email_address}&phone_country_code={phone_country_code}&phone_number={phone}"
            ),
            (.aweber, "first_name={!firstname}&last_name={!lastname}&email={!email}"),
            (.clickFunnels, "first_name=#FIRST#&last_name=#LAST#&email=#EMAIL#&phone_number=#PHONE#"),
            (.getResponse, "first_name=[[firstname]]&last_name=[[lastname]]&email=[[email]]"),
            (.iContact, "first_name=[fname]&last_name=[lname]&email=[email]"),
            (.keap, "first_name=~Contact.FirstName~&email=~Contact.Email~"),
            (.mailchimp, "first_name=*|FNAME|*&last_name=*|LNAME|*&email=*|EMAIL|*"),
            (.ontraport, "first_name=[firstname]&email=[email]"),
            (.kit, "first_name={{ subscriber.first_name }}&email={{ subscriber.email_address }}"),
        ]
    )
    func autoresponders(autoresponder: OneClickLink.Autoresponder, query: String) throws {
        let link = try OneClickLink(webinar: series, platform: .webinarjam, autoresponder: autoresponder)
        #expect(link.url == "https://event.webinarjam.com/register/1click/16/74qn4cw?\(query)&schedule_id=1")
        #expect(link.session == 1)
        #expect(link.schedule.schedule == 34)
    }

    @Test("the seed's Kartra examples, with a field choice")
    func seedExamples() throws {
        let short = try OneClickLink(
            webinar: series,
            platform: .webinarjam,
            autoresponder: .kartra,
            fields: [.email, .firstName]
        )
        #expect(
            short.url
                == "https://event.webinarjam.com/register/1click/16/74qn4cw?first_name={first_name}&email={email_address}&schedule_id=1"
        )
        let phone = try OneClickLink(
            webinar: series,
            platform: .webinarjam,
            autoresponder: .kartra,
            fields: [.firstName, .email, .phoneCountryCode, .phoneNumber]
        )
        #expect(
            phone.url
                == "https://event.webinarjam.com/register/1click/16/74qn4cw?first_name={first_name}&email={email_address}&phone_country_code={phone_country_code}&phone_number={phone}&schedule_id=1"
        )
        #expect(phone.fields == [.firstName, .email, .phoneCountryCode, .phoneNumber])
    }

    @Test("session N is the N-th schedule; out of range is refused")
    func sessions() throws {
        let second = try OneClickLink(webinar: series, platform: .webinarjam, autoresponder: .mailchimp, session: 2)
        #expect(second.url.hasSuffix("&schedule_id=2"))
        #expect(second.schedule.schedule == 46)
        #expect(throws: OneClickLink.BuildError.sessionOutOfRange(session: 3, count: 2)) {
            _ = try OneClickLink(webinar: series, platform: .webinarjam, autoresponder: .mailchimp, session: 3)
        }
        #expect(throws: OneClickLink.BuildError.sessionOutOfRange(session: 0, count: 2)) {
            _ = try OneClickLink(webinar: series, platform: .webinarjam, autoresponder: .mailchimp, session: 0)
        }
    }

    @Test("EverWebinar instant replay and just in time are refused; a recurring session is fine")
    func everWebinarRefusals() throws {
        #expect(throws: OneClickLink.BuildError.instantReplay(session: 1)) {
            _ = try OneClickLink(webinar: evergreen, platform: .everwebinar, autoresponder: .kartra, session: 1)
        }
        #expect(throws: OneClickLink.BuildError.justInTime(session: 2)) {
            _ = try OneClickLink(webinar: evergreen, platform: .everwebinar, autoresponder: .kartra, session: 2)
        }
        let third = try OneClickLink(webinar: evergreen, platform: .everwebinar, autoresponder: .kartra, session: 3)
        #expect(third.url.hasPrefix("https://event.webinarjam.com/register/1click/6/uvw1234?"))
        #expect(third.schedule.schedule == 56)
        #expect(OneClickLink.BuildError.justInTime(session: 2).description.contains("just-in-time"))
    }

    @Test("fields without a tag, missing required fields and timezone are clear errors")
    func fieldErrors() throws {
        // A field the autoresponder has no merge tag for.
        let untagged: [(OneClickLink.Autoresponder, [OneClickLink.Field], OneClickLink.Field)] = [
            (.mailchimp, [.firstName, .email, .phoneNumber], .phoneNumber),
            (.keap, [.firstName, .lastName, .email], .lastName),
        ]
        for (autoresponder, fields, field) in untagged {
            #expect(throws: OneClickLink.BuildError.noTag(field: field, autoresponder: autoresponder)) {
                _ = try OneClickLink(
                    webinar: series,
                    platform: .webinarjam,
                    autoresponder: autoresponder,
                    fields: fields
                )
            }
        }
        #expect(throws: OneClickLink.BuildError.requiredFieldMissing(.email)) {
            _ = try OneClickLink(webinar: series, platform: .webinarjam, autoresponder: .kartra, fields: [.firstName])
        }
        #expect(throws: OneClickLink.BuildError.timezoneValueMissing) {
            _ = try OneClickLink(
                webinar: series,
                platform: .webinarjam,
                autoresponder: .kartra,
                fields: [.firstName, .email, .timezone]
            )
        }
        let message = OneClickLink.BuildError.noTag(field: .phoneNumber, autoresponder: .mailchimp).description
        #expect(
            message
                == "MailChimp has no merge tag for phone_number (it has: first_name, last_name, email); leave that field out"
        )
    }

    @Test("a fixed timezone value is encoded (+ as %2B)")
    func timezone() throws {
        let link = try OneClickLink(
            webinar: evergreen,
            platform: .everwebinar,
            autoresponder: .activeCampaign,
            session: 3,
            fields: [.firstName, .email, .timezone],
            timezone: "GMT+4:30"
        )
        #expect(
            link.url
                == "https://event.webinarjam.com/register/1click/6/uvw1234?first_name=%FIRSTNAME%&email=%EMAIL%&timezone=GMT%2B4%3A30&schedule_id=3"
        )
        let defaults = try OneClickLink(
            webinar: evergreen,
            platform: .everwebinar,
            autoresponder: .ontraport,
            session: 3,
            timezone: "GMT-7"
        )
        #expect(defaults.url.hasSuffix("email=[email]&timezone=GMT-7&schedule_id=3"))
    }

    @Test("a webinar without hash is refused")
    func noHash() {
        let noHash = WebinarDetail(webinarID: 3, schedules: [ScheduleInfo(schedule: 1)])
        #expect(throws: OneClickLink.BuildError.missingWebinarHash(webinarID: 3)) {
            _ = try OneClickLink(webinar: noHash, platform: .webinarjam, autoresponder: .kartra)
        }
    }

    @Test("autoresponder and field names parse leniently")
    func names() {
        #expect(OneClickLink.Autoresponder(name: "Active Campaign") == .activeCampaign)
        #expect(OneClickLink.Autoresponder(name: "infusionsoft") == .keap)
        #expect(OneClickLink.Autoresponder(name: "Keap") == .keap)
        #expect(OneClickLink.Autoresponder(name: "MailChimp") == .mailchimp)
        #expect(OneClickLink.Autoresponder(name: "click-funnels") == .clickFunnels)
        #expect(OneClickLink.Autoresponder(name: "hubspot") == nil)
        #expect(OneClickLink.Autoresponder.allCases.count == 10)
        #expect(OneClickLink.Field(name: "Phone Number") == .phoneNumber)
        #expect(OneClickLink.Field(name: "first_name") == .firstName)
        #expect(OneClickLink.Field(name: "age") == nil)
    }
}
