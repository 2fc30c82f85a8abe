import Foundation
import XCTest

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Answers by SMS through the Twilio webhook, with requests shaped as Twilio sends them
/// and signed by Twilio's documented algorithm (computed here by Python's hmac module,
/// not by the server's code).
final class TextMessageTests: XCTestCase {
    static let authToken = "12345678901234567890123456789012"
    static let publicURL = "https://polls.example.edu"

    private func withSMSServer(
        token: String? = TextMessageTests.authToken,
        insecure: Bool = false,
        _ body: (TestServer) throws -> Void
    ) throws {
        try withServer(
            configure: { config in
                config.publicURL = Self.publicURL
                config.twilioAuthToken = token
                config.smsInsecure = insecure
                config.smsNumber = "+15551234567"
            },
            body
        )
    }

    /// Twilio's signature: base64(HMAC-SHA1(token, url + sorted name/value pairs)).
    static func signature(url: String, params: [(String, String)], token: String) throws -> String {
        let script = """
            import base64, hashlib, hmac, json, sys
            d = json.load(sys.stdin)
            data = d["url"] + "".join(k + v for k, v in sorted(d["params"]))
            print(base64.b64encode(hmac.new(d["token"].encode(), data.encode(), hashlib.sha1).digest()).decode())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let request: [String: Any] = ["url": url, "params": params.map { [$0.0, $0.1] }, "token": token]
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func formBody(_ params: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let text = params.map { k, v in
            (k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k) + "="
                + (v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)
        }.joined(separator: "&")
        return Array(text.utf8)
    }

    /// A text from `from` with `body`, as Twilio posts it; returns the TwiML message.
    @discardableResult
    func text(
        _ server: TestServer,
        from: String,
        _ body: String,
        signedFor url: String = TextMessageTests.publicURL + "/sms/twilio",
        token: String? = TextMessageTests.authToken,
        messageSid: String = "SM" + newParticipantID(),
        expectStatus: Int = 200
    ) throws -> String {
        let params = [
            ("ToCountry", "US"), ("SmsMessageSid", messageSid), ("NumMedia", "0"),
            ("From", from), ("To", "+15551234567"), ("Body", body), ("MessageSid", messageSid),
            ("AccountSid", "AC" + newParticipantID()), ("ApiVersion", "2010-04-01"), ("NumSegments", "1"),
        ]
        var headers = ["I-Twilio-Idempotency-Token": UUID().uuidString]
        if let token { headers["X-Twilio-Signature"] = try Self.signature(url: url, params: params, token: token) }
        let reply = try TestHTTP.request(
            port: server.port,
            "POST",
            "/sms/twilio",
            headers: headers,
            body: Self.formBody(params),
            contentType: "application/x-www-form-urlencoded"
        )
        XCTAssertEqual(reply.status, expectStatus, reply.text)
        guard reply.status == 200 else { return reply.text }
        XCTAssertEqual(reply.headers["content-type"], "text/xml; charset=utf-8")
        XCTAssertTrue(reply.text.hasPrefix("<?xml"), reply.text)
        return try Self.message(in: reply.body)
    }

    /// The text of the TwiML's `<Message>` as an XML parser reads it ("" for none); a
    /// reply that is not well-formed XML fails the test.
    static func message(in xml: [UInt8]) throws -> String {
        final class Reader: NSObject, XMLParserDelegate {
            var inMessage = false
            var text = ""
            var elements: [String] = []
            func parser(
                _ parser: XMLParser,
                didStartElement name: String,
                namespaceURI: String?,
                qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                elements.append(name)
                inMessage = name == "Message"
            }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?)
            {
                inMessage = false
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) {
                if inMessage { text += string }
            }
        }
        let parser = XMLParser(data: Data(xml))
        let reader = Reader()
        parser.delegate = reader
        guard parser.parse() else {
            throw TestSocket.Failure(description: "not well-formed TwiML: \(String(decoding: xml, as: UTF8.self))")
        }
        XCTAssertEqual(reader.elements.first, "Response")
        XCTAssertLessThanOrEqual(reader.elements.filter { $0 == "Message" }.count, 1)
        return reader.text
    }

    func testATextJoinsTheRoomAndLettersAnswerOnTheLiveChart() throws {
        try withSMSServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Which gas makes up most of Earth's atmosphere?",
                    "options": ["Oxygen", "Nitrogen", "Argon", "Carbon dioxide"],
                ]
            )
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            _ = try screen.next { $0.type == "state" }

            XCTAssertEqual(
                try text(s, from: "+15550000001", "ALICE"),
                "You joined ALICE. When a question opens, text your answer here."
            )
            XCTAssertEqual(
                try text(s, from: "+15550000001", "B"),
                "No question is open in ALICE right now."
            )
            try s.control(token, poll, "activate")
            let joined = try text(s, from: "+15550000002", "alice")
            XCTAssertTrue(joined.hasPrefix("You joined ALICE. Q: Which gas"), joined)
            XCTAssertTrue(joined.hasSuffix("Reply with one letter, A to D."), joined)

            // Every way a student types B, and the keyword in front.
            XCTAssertEqual(try text(s, from: "+15550000001", "B"), "Got it: B.")
            XCTAssertEqual(try text(s, from: "+15550000002", " b "), "Got it: B.")
            XCTAssertEqual(try text(s, from: "+15550000003", "alice B."), "Got it: B.")
            XCTAssertEqual(try text(s, from: "+15550000003", "b"), "You already sent: B.")
            XCTAssertEqual(try text(s, from: "+15550000003", "Alice a"), "Changed to: A.")
            XCTAssertEqual(
                try text(s, from: "+15550000003", "Z"),
                "\"Z\" is not an answer. Reply with one letter, A to D."
            )
            XCTAssertEqual(
                try text(s, from: "+15550000009", "bob B"),
                "Unknown keyword \"BOB\". Text the keyword shown on the screen, then your answer."
            )

            // A web answer next to them, and the screen counts all four.
            let web = try TestParticipant(port: s.port, room: "alice")
            XCTAssertEqual(try web.choose(poll, [1]).type, "ack")
            let frame = try screen.next { $0.type == "results" && $0.counts == [1, 3, 0, 0] }
            XCTAssertEqual(frame["total"] as? Int, 4)

            try s.control(token, poll, "lock")
            XCTAssertEqual(try text(s, from: "+15550000001", "C"), "Responses to this question are closed.")
        }
    }

    func testMultiSelectOpenAndWordCloudByText() throws {
        try withSMSServer { s in
            let token = try s.presenter("biolab")
            let multi = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Which are mammals?", "options": ["Whale", "Shark", "Bat", "Eel"],
                    "settings": ["maxChoices": 3],
                ]
            )
            try s.control(token, multi, "activate")
            XCTAssertEqual(try text(s, from: "+447700900001", "biolab A C"), "Got it: A,C.")
            XCTAssertEqual(try text(s, from: "+447700900002", "biolab ac"), "Got it: A,C.")
            XCTAssertEqual(try text(s, from: "+447700900003", "biolab a, c."), "Got it: A,C.")
            XCTAssertEqual(
                try text(s, from: "+447700900003", "ABCD"),
                "\"ABCD\" is not an answer. Reply with up to 3 letters, A to D (e.g. AC)."
            )
            XCTAssertEqual(try s.results(token, multi)["counts"] as? [Int], [3, 0, 3, 0])

            let open = try s.createPoll(token, ["type": "open", "title": "One thing you learned today?"])
            try s.control(token, open, "activate")
            XCTAssertEqual(
                try text(s, from: "+447700900001", "Bats use echolocation 🦇 & <sonar>"),
                "Got it: Bats use echolocation 🦇 & <sonar>."
            )
            let cloud = try s.createPoll(token, ["type": "wordcloud", "title": "One word for mitochondria"])
            try s.control(token, cloud, "activate")
            XCTAssertEqual(try text(s, from: "+447700900002", "Powerhouse, energy"), "Got it: powerhouse energy.")
            XCTAssertEqual(try text(s, from: "+447700900003", "biolab ATP"), "Got it: atp.")
        }
    }

    func testSignaturesAreCheckedAndTheRouteIsOffWithoutAToken() throws {
        try withSMSServer { s in
            _ = try s.presenter("alice")
            // Unsigned, signed with another token, and a replay signed for another URL.
            XCTAssertTrue(
                try text(s, from: "+15550000001", "alice", token: nil, expectStatus: 403).contains("forbidden")
            )
            try text(s, from: "+15550000001", "alice", token: "wrong-token-wrong-token-wrong-tok", expectStatus: 403)
            try text(s, from: "+15550000001", "alice", signedFor: "https://evil.example/sms/twilio", expectStatus: 403)
            try text(
                s,
                from: "+15550000001",
                "alice",
                signedFor: TextMessageTests.publicURL + "/sms/twilio?x=1",
                expectStatus: 403
            )
            XCTAssertEqual(
                try text(s, from: "+15550000001", "alice"),
                "You joined ALICE. When a question opens, text your answer here."
            )
        }
        try withSMSServer(token: nil) { s in
            _ = try s.presenter("alice")
            try text(s, from: "+15550000001", "alice", token: nil, expectStatus: 404)
            let room = try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice")
            XCTAssertNil(room.json["sms"], "nothing about SMS while it is off")
        }
        try withSMSServer(token: nil, insecure: true) { s in
            _ = try s.presenter("alice")
            XCTAssertEqual(
                try text(s, from: "+15550000001", "alice", token: nil),
                "You joined ALICE. When a question opens, text your answer here."
            )
        }
    }

    func testKeywordsTheRoomShowsAndThePhoneNumberIsNeverStored() throws {
        try withSMSServer { s in
            let token = try s.presenter("alice")
            _ = try s.presenter("bob")
            let room = try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice")
            let sms = room.json["sms"] as? [String: Any]
            XCTAssertEqual(sms?["keyword"] as? String, "ALICE")
            XCTAssertEqual(sms?["number"] as? String, "+15551234567")

            // Another presenter's name, a bad keyword, then a good one.
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "POST", "/api/sms", token: token, ["keyword": "bob"]).status,
                409
            )
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "POST", "/api/sms", token: token, ["keyword": "a b"]).status,
                400
            )
            let set = try TestHTTP.json(port: s.port, "POST", "/api/sms", token: token, ["keyword": "Chem101"])
            XCTAssertEqual(set.status, 200, set.text)
            XCTAssertEqual(set.json["keyword"] as? String, "CHEM101")
            let bobToken = try s.login("bob")
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "POST", "/api/sms", token: bobToken, ["keyword": "chem101"]).status,
                409
            )
            XCTAssertEqual(
                (try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice").json["sms"] as? [String: Any])?["keyword"]
                    as? String,
                "CHEM101"
            )

            let poll = try s.createPoll(token, ["type": "choice", "title": "Ready?", "options": ["Yes", "No"]])
            try s.control(token, poll, "activate")
            let number = "+15557654321"
            XCTAssertTrue(try text(s, from: number, "chem101").hasPrefix("You joined CHEM101."))
            XCTAssertEqual(try text(s, from: number, "a"), "Got it: A.")
            XCTAssertEqual(
                try text(s, from: "+15550000000", "alice b"),
                "Got it: B.",
                "the username still works (the contract's keyword) after the presenter chose another"
            )

            // Neither the number nor its digits are in the database, its WAL, or the export.
            let csv = try TestHTTP.request(
                port: s.port,
                "GET",
                "/api/polls/\(poll)/export.csv",
                headers: ["Authorization": "Bearer \(token)"]
            )
            XCTAssertFalse(csv.text.contains("5557654321"))
            let files = try FileManager.default.contentsOfDirectory(atPath: s.dataDirectory)
            XCTAssertTrue(
                files.contains { $0.hasSuffix("-wal") }
                    || files.contains { $0.hasSuffix(".sqlite") || $0.hasSuffix(".db") },
                "\(files)"
            )
            for file in files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: s.dataDirectory + "/" + file))
                XCTAssertNil(bytes.range(of: Data("5557654321".utf8)), "the number is in \(file)")
            }
        }
    }

    func testAFloodFromOnePhoneGetsNoRepliesAndOthersCarryOn() throws {
        try withSMSServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Ready?", "options": ["Yes", "No"]])
            try s.control(token, poll, "activate")
            var silent = 0
            for _ in 0..<30 where try text(s, from: "+15550000666", "alice a").isEmpty { silent += 1 }
            XCTAssertGreaterThanOrEqual(silent, 15, "past its burst a phone gets an empty <Response/>")
            XCTAssertEqual(try text(s, from: "+15550000777", "alice b"), "Got it: B.")
        }
    }

    /// Found by an attack review: answers that spell a keyword, carrier words, replays,
    /// re-split requests, echoes that grow, characters XML cannot hold, the key's file.
    func testAnswersSpellingKeywordsStayInTheRoomAndRepliesStayShortAndWellFormed() throws {
        try withSMSServer { s in
            let token = try s.presenter("alice")
            _ = try s.presenter("abc")
            let bob = try s.presenter("bob")
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "POST", "/api/sms", token: bob, ["keyword": "cab"]).status,
                200
            )
            let poll = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Which are noble gases?", "options": ["Neon", "Argon", "Xenon", "Iron"],
                    "settings": ["maxChoices": 3],
                ]
            )
            try s.control(token, poll, "activate")
            XCTAssertTrue(try text(s, from: "+15550001001", "alice").hasPrefix("You joined ALICE."))
            // Three letters of this poll, though a presenter is called abc and another chose cab.
            XCTAssertEqual(try text(s, from: "+15550001001", "ABC"), "Got it: A,B,C.")
            XCTAssertEqual(try text(s, from: "+15550001001", "cab"), "You already sent: A,B,C.")
            XCTAssertEqual(try s.results(token, poll)["counts"] as? [Int], [1, 1, 1, 0])
            // A keyword that is not an answer here still moves the phone.
            XCTAssertTrue(
                try text(s, from: "+15550001001", "bob").hasPrefix("You joined CAB."),
                "bob, known by his keyword"
            )

            // Carrier words are nobody's keyword.
            for word in ["stop", "HELP", "unsubscribe"] {
                XCTAssertEqual(
                    try TestHTTP.json(port: s.port, "POST", "/api/sms", token: bob, ["keyword": word]).status,
                    400,
                    word
                )
            }
            _ = try s.presenter("help")
            XCTAssertNil(try TestHTTP.json(port: s.port, "GET", "/api/rooms/help").json["sms"], "HELP reaches no room")
            XCTAssertTrue(try text(s, from: "+15550001002", "help").hasPrefix("Unknown keyword"))

            // The same message twice (a retry, a replay) is handled once.
            let sid = "SM" + newParticipantID()
            XCTAssertTrue(try text(s, from: "+15550001003", "alice", messageSid: sid).hasPrefix("You joined"))
            XCTAssertEqual(try text(s, from: "+15550001003", "alice", messageSid: sid), "")
            // Not Twilio's message id, or a From that swallowed the parameters after it.
            try text(s, from: "+15550001003", "a", messageSid: "SM1", expectStatus: 400)
            try text(s, from: "+15550001004To+15551234567", "alice", expectStatus: 400)

            // Echoes are counted in scalars: one letter under 1,500 accents is not a long reply.
            let heavy = "q" + String(repeating: "\u{301}", count: 1500)
            XCTAssertLessThan(try text(s, from: "+15550001005", heavy).unicodeScalars.count, 140)
            // Characters XML 1.0 cannot hold are left out of the reply (the parser would refuse it).
            XCTAssertTrue(try text(s, from: "+15550001006", "\u{FFFF}alice\u{FFFE}").hasPrefix("Unknown keyword"))

            // The phone key lives in its own file, not in the database.
            let key = s.dataDirectory + "/sms.key"
            let attributes = try FileManager.default.attributesOfItem(atPath: key)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            XCTAssertEqual((attributes[.size] as? NSNumber)?.intValue, 32)
        }
    }
}
