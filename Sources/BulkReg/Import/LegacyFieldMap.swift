import SQLite

/// The mapping rules of schema 2 (bulkreg before the mapping was stored with its import),
/// frozen: a database upgraded to schema 3 gets each earlier import's map computed by the
/// rules it was imported with, and stored (`imports.mapping`), so its queued rows are read
/// exactly as before — a column `Webinar ID` keeps feeding the per-row webinar, whatever
/// the current rules say of it.
enum LegacyFieldMap {
    /// Schema 2's header spellings, frozen as they were: a field per line, its raw name, then
    /// its normalized spellings.
    static let aliases: [LeadField: [String]] = {
        let table = """
            first_name: firstname fname first givenname forename contactfirstname subscriberfirstname prenom vorname nombre
            last_name: lastname lname last surname familyname contactlastname subscriberlastname nom nachname apellido apellidos
            full_name: name fullname contactname subscribername displayname
            email: email emailaddress mail emailid contactemail subscriberemail primaryemail workemail personalemail emailaddr courriel
            phone_country_code: phonecountrycode countrycode dialcode callingcode countrycallingcode phonecode phoneprefix
            phone: phone phonenumber mobile mobilephone mobilenumber cellphone cell cellnumber telephone tel phone1 sms smsnumber whatsapp primaryphone workphone homephone contactphone phonemobile mobilephonenumber cellphonenumber workphonenumber homephonenumber phonenumbermobile smsphonenumber
            ip_address: ipaddress ip signupip optinip confirmip
            platform: platform
            webinar_id: webinarid webinar
            schedule: schedule scheduleid
            date: date sessiondate webinardate
            timezone: timezone tz
            """
        var aliases: [LeadField: [String]] = [:]
        for line in table.split(separator: "\n") {
            let (name, spellings) = (line.prefix { $0 != ":" }, line.drop { $0 != ":" }.dropFirst())
            aliases[LeadField(rawValue: String(name))!] = spellings.split(separator: " ").map(String.init)
        }
        return aliases
    }()

    static let byAlias: [String: LeadField] = {
        var table: [String: LeadField] = [:]
        for (field, names) in aliases { for name in names { table[name] = field } }
        return table
    }()

    /// The schema-2 map of a header: `--map` overrides first, then aliases, the first column
    /// of a field winning (schema 2 had one column per field); nil where schema 2 would have
    /// refused the header (no such import can exist).
    static func map(header: [String], overrides: [String: String]) -> FieldMap? {
        let normalized = header.map(FieldMap.normalize)
        var claimed = Set<Int>()
        var columns: [LeadField: [Int]] = [:]
        var extras: [(name: String, column: Int)] = []
        for (fieldName, headerName) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let index = FieldMap.column(named: headerName, in: header, normalized: normalized) else { return nil }
            // Only the fields schema 2 knew: a later field (country, twilio_consent) was an
            // extra field passed through as is.
            let known = LeadField(rawValue: fieldName).flatMap { aliases[$0] == nil ? nil : $0 }
            if let field = known ?? byAlias[FieldMap.normalize(fieldName)] {
                columns[field] = [index]
            } else {
                extras.append((fieldName, index))
            }
            claimed.insert(index)
        }
        for (index, name) in normalized.enumerated() where !claimed.contains(index) {
            guard let field = byAlias[name], columns[field] == nil else { continue }
            columns[field] = [index]
        }
        guard columns[.email] != nil, columns[.firstName] != nil || columns[.fullName] != nil else { return nil }
        return FieldMap(candidates: columns, extras: extras)
    }

    /// Migration 3's step in Swift: stores the schema-2 map of every import that has none.
    static func storeMaps(_ connection: Connection) throws {
        let read = try connection.prepare("SELECT id, header, overrides FROM imports WHERE mapping IS NULL")
        var maps: [(Int64, String)] = []
        while try read.step() {
            let header = read.withBlob(1) { RowCodec.decode($0) }
            let overrides = Importer.overrides(flat: read.withBlob(2) { RowCodec.decode($0) })
            if let map = map(header: header, overrides: overrides) { maps.append((read.int64(0), map.stored)) }
        }
        let write = try connection.prepare("UPDATE imports SET mapping = ? WHERE id = ?")
        for (id, stored) in maps {
            write.reset()
            try write.run([.text(stored), .int(id)])
        }
    }
}
