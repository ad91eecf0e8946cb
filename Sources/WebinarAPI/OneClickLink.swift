/// A one-click registration link, built as the vendor's article describes:
/// `https://event.webinarjam.com/register/1click/{webinar_id}/{webinar_hash}?first_name=…&email=…&schedule_id=N`,
/// each value being the autoresponder's merge tag for that field, left unencoded so the
/// autoresponder can substitute it when it sends the mail.
///
/// `schedule_id` is the *session number* of the webinar's schedule wizard, not an API
/// schedule id; session N is taken to be the N-th entry (1-based) of the `webinar` answer's
/// schedules, which ``schedule`` reports so the user can check it. EverWebinar just-in-time
/// and instant-replay sessions have no session id and are refused.
public struct OneClickLink: Sendable, Equatable, CustomStringConvertible {
    /// The link to paste into the autoresponder's mail.
    public let url: String
    /// The session number used as `schedule_id`.
    public let session: Int
    /// The `webinar` schedule that session is taken to be.
    public let schedule: ScheduleInfo
    /// The fields present in the link, in link order.
    public let fields: [Field]

    /// The link itself.
    public var description: String { url }

    /// Host and path prefix of every one-click link.
    public static let base = "https://event.webinarjam.com/register/1click"

    /// A registration field that a one-click link can carry, named as its URL parameter.
    public enum Field: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
        /// `first_name` (required by the link).
        case firstName = "first_name"
        /// `last_name`.
        case lastName = "last_name"
        /// `email` (required by the link).
        case email
        /// `phone_country_code` (`+1`).
        case phoneCountryCode = "phone_country_code"
        /// `phone_number` (digits).
        case phoneNumber = "phone_number"
        /// `timezone` (`GMT-7`); EverWebinar "user's own time zone" webinars only.
        case timezone

        /// The URL parameter name.
        public var description: String { rawValue }

        /// Parses `first_name`, `First Name`, `phone`, `tz`, … (case- and separator-insensitive).
        public init?(name: String) {
            let key = name.lowercased().filter { $0.isLetter }
            switch key {
            case "firstname", "first", "fname": self = .firstName
            case "lastname", "last", "lname": self = .lastName
            case "email", "emailaddress": self = .email
            case "phonecountrycode", "countrycode": self = .phoneCountryCode
            case "phonenumber", "phone": self = .phoneNumber
            case "timezone", "tz": self = .timezone
            default: return nil
            }
        }
    }

    /// The autoresponders whose merge tags the vendor's article lists.
    public enum Autoresponder: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
        /// ActiveCampaign: `%FIRSTNAME%`, `%LASTNAME%`, `%EMAIL%`.
        case activeCampaign = "activecampaign"
        /// Kartra: `{first_name}`, `{last_name}`, `{email_address}`, `{phone_country_code}`, `{phone}`.
        case kartra
        /// AWeber: `{!firstname}`, `{!lastname}`, `{!email}`.
        case aweber
        /// ClickFunnels: `#FIRST#`, `#LAST#`, `#EMAIL#`, `#PHONE#`.
        case clickFunnels = "clickfunnels"
        /// GetResponse: `[[firstname]]`, `[[lastname]]`, `[[email]]`.
        case getResponse = "getresponse"
        /// iContact: `[fname]`, `[lname]`, `[email]`.
        case iContact = "icontact"
        /// Infusionsoft / Keap: `~Contact.FirstName~`, `~Contact.Email~`.
        case keap
        /// MailChimp: `*|FNAME|*`, `*|LNAME|*`, `*|EMAIL|*`.
        case mailchimp
        /// Ontraport: `[firstname]`, `[email]`.
        case ontraport
        /// Kit (formerly ConvertKit), Liquid: `{{ subscriber.first_name }}`,
        /// `{{ subscriber.email_address }}` (not in the vendor's article: Kit's own docs).
        case kit

        /// Parses a user-typed name: case, spaces, `-`, `_` and `.` are ignored;
        /// `infusionsoft` is Keap, `active campaign` is ActiveCampaign, `mc` is MailChimp.
        public init?(name: String) {
            let key = name.lowercased().filter { $0.isLetter || $0.isNumber }
            switch key {
            case "activecampaign", "ac": self = .activeCampaign
            case "kartra": self = .kartra
            case "aweber": self = .aweber
            case "clickfunnels", "cf": self = .clickFunnels
            case "getresponse", "gr": self = .getResponse
            case "icontact": self = .iContact
            case "keap", "infusionsoft", "infusionsoftkeap", "keapinfusionsoft": self = .keap
            case "mailchimp", "mc": self = .mailchimp
            case "ontraport": self = .ontraport
            case "kit", "convertkit", "ck": self = .kit
            default: return nil
            }
        }

        /// The name as the vendor's article writes it.
        public var displayName: String {
            switch self {
            case .activeCampaign: return "ActiveCampaign"
            case .kartra: return "Kartra"
            case .aweber: return "AWeber"
            case .clickFunnels: return "ClickFunnels"
            case .getResponse: return "GetResponse"
            case .iContact: return "iContact"
            case .keap: return "Infusionsoft/Keap"
            case .mailchimp: return "MailChimp"
            case .ontraport: return "Ontraport"
            case .kit: return "Kit"
            }
        }

        /// ``displayName``.
        public var description: String { displayName }

        /// The merge tag of each field this autoresponder has one for (from the article's
        /// "Autoresponder Field Variables"; none has a tag for `timezone`).
        public var tags: [Field: String] {
            switch self {
            case .activeCampaign:
                return [.firstName: "%FIRSTNAME%", .lastName: "%LASTNAME%", .email: "%EMAIL%"]
            case .kartra:
                return [
                    .firstName: "{first_name}", .lastName: "{last_name}", .email: "{email_address}",
                    .phoneCountryCode: "{phone_country_code}", .phoneNumber: "{phone}",
                ]
            case .aweber:
                return [.firstName: "{!firstname}", .lastName: "{!lastname}", .email: "{!email}"]
            case .clickFunnels:
                return [.firstName: "#FIRST#", .lastName: "#LAST#", .email: "#EMAIL#", .phoneNumber: "#PHONE#"]
            case .getResponse:
                return [.firstName: "[[firstname]]", .lastName: "[[lastname]]", .email: "[[email]]"]
            case .iContact:
                return [.firstName: "[fname]", .lastName: "[lname]", .email: "[email]"]
            case .keap:
                return [.firstName: "~Contact.FirstName~", .email: "~Contact.Email~"]
            case .mailchimp:
                return [.firstName: "*|FNAME|*", .lastName: "*|LNAME|*", .email: "*|EMAIL|*"]
            case .ontraport:
                return [.firstName: "[firstname]", .email: "[email]"]
            case .kit:
                return [.firstName: "{{ subscriber.first_name }}", .email: "{{ subscriber.email_address }}"]
            }
        }

        /// The fields this autoresponder has a tag for, in link order.
        public var supportedFields: [Field] {
            let tags = self.tags
            return Field.allCases.filter { tags[$0] != nil }
        }
    }

    /// Why a link cannot be built; each description names the fix.
    public enum BuildError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The autoresponder has no merge tag for that field.
        case noTag(field: Field, autoresponder: Autoresponder)
        /// `first_name` and `email` must be in the link.
        case requiredFieldMissing(Field)
        /// `timezone` was chosen without a fixed value (no autoresponder has a tag for it).
        case timezoneValueMissing
        /// The session number is not in `1...count`.
        case sessionOutOfRange(session: Int, count: Int)
        /// EverWebinar instant-replay session.
        case instantReplay(session: Int)
        /// EverWebinar just-in-time session.
        case justInTime(session: Int)
        /// The `webinar` answer has no `webinar_hash`.
        case missingWebinarHash(webinarID: Int)

        /// A user-facing message.
        public var description: String {
            switch self {
            case .noTag(let field, let autoresponder):
                let supported = autoresponder.supportedFields.map(\.rawValue).joined(separator: ", ")
                return
                    "\(autoresponder.displayName) has no merge tag for \(field.rawValue) (it has: \(supported)); leave that field out"
            case .requiredFieldMissing(let field):
                return "the one-click link requires \(field.rawValue); include it in the fields"
            case .timezoneValueMissing:
                return
                    "no autoresponder has a merge tag for timezone: give a fixed value such as GMT-5, or leave timezone out"
            case .sessionOutOfRange(let session, let count):
                return count == 0
                    ? "the webinar has no schedules, so session \(session) does not exist"
                    : "session \(session) does not exist: the webinar has \(count) schedule(s), choose 1…\(count)"
            case .instantReplay(let session):
                return
                    "session \(session) is an EverWebinar instant-replay session: one-click registration cannot be used for it"
            case .justInTime(let session):
                return
                    "session \(session) is an EverWebinar just-in-time session: one-click registration cannot be used for it"
            case .missingWebinarHash(let webinarID):
                return "webinar \(webinarID) has no webinar_hash in the API's answer, so no one-click link can be built"
            }
        }
    }

    /// Builds the link.
    /// - Parameters:
    ///   - webinar: the `webinar` answer (id, hash, schedules).
    ///   - platform: EverWebinar refuses instant-replay and just-in-time sessions.
    ///   - autoresponder: whose merge tags to use.
    ///   - session: 1-based session number (default 1), the N-th schedule of `webinar`.
    ///   - fields: the fields to include; nil means every field the autoresponder has a tag
    ///     for (plus `timezone` when `timezone` is given). Order does not matter.
    ///   - timezone: a fixed `timezone` value (`GMT-5`), percent-encoded in the link.
    /// - Throws: ``BuildError``.
    public init(
        webinar: WebinarDetail,
        platform: Platform,
        autoresponder: Autoresponder,
        session: Int = 1,
        fields: [Field]? = nil,
        timezone: String? = nil
    ) throws(BuildError) {
        guard session >= 1, session <= webinar.schedules.count else {
            throw .sessionOutOfRange(session: session, count: webinar.schedules.count)
        }
        let schedule = webinar.schedules[session - 1]
        if platform == .everwebinar {
            if schedule.isInstantReplay { throw .instantReplay(session: session) }
            if schedule.isJustInTime { throw .justInTime(session: session) }
        }
        guard let hash = webinar.webinarHash, !hash.isEmpty else {
            throw .missingWebinarHash(webinarID: webinar.webinarID)
        }
        let fixedTimezone = timezone.flatMap { $0.isEmpty ? nil : $0 }
        var chosen = Set(fields ?? autoresponder.supportedFields)
        if fields == nil, fixedTimezone != nil { chosen.insert(.timezone) }
        for required in [Field.firstName, .email] where !chosen.contains(required) {
            throw .requiredFieldMissing(required)
        }
        let tags = autoresponder.tags
        var parameters: [String] = []
        var included: [Field] = []
        for field in Field.allCases where chosen.contains(field) {
            let value: String
            if field == .timezone {
                guard let fixedTimezone else { throw .timezoneValueMissing }
                value = FormEncoding.encode(fixedTimezone)
            } else {
                guard let tag = tags[field] else { throw .noTag(field: field, autoresponder: autoresponder) }
                value = tag
            }
            parameters.append("\(field.rawValue)=\(value)")
            included.append(field)
        }
        parameters.append("schedule_id=\(session)")
        self.url =
            "\(Self.base)/\(webinar.webinarID)/\(FormEncoding.encode(hash))?" + parameters.joined(separator: "&")
        self.session = session
        self.schedule = schedule
        self.fields = included
    }
}
