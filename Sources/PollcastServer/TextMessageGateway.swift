import Foundation
import PollcastApp
import PollcastCore

/// Answers by text message through a Twilio-compatible webhook (`POST /sms/twilio`).
///
/// A phone texts a presenter's keyword to join that room for a while, then letters
/// (or text, or words) to answer the active poll. The phone number is never stored,
/// logged or exported: it is keyed at once (HMAC-SHA256 under the key in the file
/// `sms.key`, apart from the database) and only that is kept, as the membership and as
/// the participant id. An answer
/// takes the same path as any other (rules, limits, tally, group commit), and the
/// reply is written only after its commit. Runs on the API queue.
final class TextMessageGateway: Sendable {
    struct Settings: Sendable {
        /// Twilio's auth token: every request must be signed with it. Nil only with
        /// `--sms-insecure` (then anyone who can reach the route can answer as any number).
        var authToken: String?
        /// The number shown on the screen ("Text ALICE to +1...").
        var number: String?
        /// How long a keyword keeps a phone in its room.
        var joinSeconds: Double = 24 * 3600
        /// The file of the key phone numbers are hashed with (32 bytes, mode 0600), kept
        /// apart from the database: a phone number has so few possibilities that anyone
        /// with the key and the database could try them all. Nil with a shared store:
        /// every node must hash a phone alike, so the key is the store's.
        var keyFile: String?
    }

    /// Reads the phone key, or makes it on first use (created exclusively, mode 0600).
    static func phoneKey(in path: String) throws(ServerError) -> [UInt8] {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw ServerError.keyFile("\(path) is not a 32-byte key") }
            return Array(data)
        }
        let key = Crypto.randomBytes(32)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ServerError.keyFile("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard key.withUnsafeBytes({ write(fd, $0.baseAddress, 32) }) == 32, fsync(fd) == 0 else {
            throw ServerError.keyFile("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return key
    }

    /// The room a phone joined by keyword, and until when (seconds since 1970).
    struct Membership: Sendable {
        var room: String
        var expires: Double
    }

    let settings: Settings
    private let store: any Storage
    private let polls: PollService
    private let key: [UInt8]
    /// Phone key to room, a cache of the store's `sms_members` (memory first: 200 texts
    /// a second must not each read the database).
    private let members = Locked([String: Membership]())
    /// Presenter to keyword, for those who chose one (everyone else's is the username).
    private let keywords: Locked<[String: String]>
    /// Serialises keyword changes (check, store write, map update) and counts them (a
    /// real value: ThreadSanitizer mis-tracks a `Locked(())`).
    private let keywordChanges = Locked(0)
    /// Message ids already handled.
    private let seen = Locked(Set<String>())
    /// Texts per phone: a phone that floods gets no replies (each reply is a paid SMS).
    private let limiter = KeyedRateLimiter(rate: 0.5, burst: 10)

    private let metrics: ServerMetrics

    init(settings: Settings, store: any Storage, polls: PollService, metrics: ServerMetrics) throws(ServerError) {
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.polls = polls
        if let file = settings.keyFile {
            key = try Self.phoneKey(in: file)
        } else {
            do { key = try store.secret(named: "sms-phone-key") { Crypto.randomBytes(32) } } catch {
                throw .store(error)
            }
        }
        do { keywords = Locked(try store.smsKeywords()) } catch { throw .store(error) }
    }

    /// Reads the keywords again (another node changed one).
    func reloadKeywords() throws(StoreError) {
        let stored = try store.smsKeywords()
        keywordChanges.withLock { changes in
            changes += 1
            keywords.withLock { $0 = stored }
        }
    }

    // MARK: Keywords

    /// The keyword `username`'s audience is shown, upper-cased as the screen shows it.
    func keyword(of username: String) -> String {
        (keywords.withLock { $0[username] } ?? username).uppercased()
    }

    /// The presenter whose keyword is `word` (lower-case), if any. A chosen keyword
    /// first, then a username (the contract's keyword; it keeps working after its
    /// presenter chose another). Carrier words (STOP, HELP...) are nobody's.
    private func presenter(forKeyword word: String) -> String? {
        guard !TextMessage.carrierWords.contains(word) else { return nil }
        let chosen = keywords.withLock { map in map.first { $0.value == word }?.key }
        if let chosen { return chosen }
        return polls.knownRoom(word) ? word : nil
    }

    /// The keyword to show for `username`'s room, or nil when texting it would not reach
    /// this room (a username that is a carrier word, or that another presenter chose as
    /// a keyword before this account existed): the presenter must choose one.
    func shownKeyword(of username: String) -> String? {
        let word = keywords.withLock { $0[username] } ?? username
        return presenter(forKeyword: word) == username ? word.uppercased() : nil
    }

    /// Sets the keyword of `username`: 3 to 20 letters, digits, `_` or `-`, not another
    /// presenter's keyword or username. Its own username resets it.
    func setKeyword(_ raw: String, for username: String) throws(PollcastError) -> String {
        let word = raw.trimmedWhitespace.lowercased()
        guard TextMessage.isValidKeyword(word) else {
            throw .badRequest("a keyword is 3 to 20 letters a-z, digits, _ or -")
        }
        // Checked and saved one change at a time (two presenters choosing the same
        // keyword at once cannot both get it); texts read `keywords` meanwhile and
        // never wait for this commit.
        try keywordChanges.withLock { (changes: inout Int) throws(PollcastError) in
            changes += 1
            let map = keywords.withLock { $0 }
            if word != username {
                if polls.knownRoom(word) { throw PollcastError(.conflict, "\(word) is another presenter's name") }
                if let holder = map.first(where: { $0.value == word })?.key, holder != username {
                    throw PollcastError(.conflict, "another presenter already uses the keyword \(word.uppercased())")
                }
            }
            do { try store.setSMSKeyword(word == username ? nil : word, for: username) } catch {
                throw PollcastError(.unavailable, "cannot save the keyword: \(error)")
            }
            keywords.withLock { $0[username] = word == username ? nil : word }
        }
        return word.uppercased()
    }

    // MARK: The webhook

    /// Handles one webhook request: checks its signature, reads the form, and answers
    /// with TwiML now or, for an answer, once it is durable (`.deferred`).
    func handle(_ request: HTTPRequest, publicURL: String) -> RouteResult {
        let form: [(String, String)]
        do { form = try Self.form(request.body) } catch {
            return .response(.error(error))
        }
        // Twilio signs the URL it was given; lws hands over a query already decoded, so
        // the exact signed text could not be rebuilt: the webhook URL has no query.
        guard request.query.isEmpty else {
            return .response(.error(.badRequest("set the webhook URL to \(publicURL)/sms/twilio, without a query")))
        }
        if let token = settings.authToken {
            let signed = publicURL + request.path
            let expected = Self.signature(url: signed, form: form, authToken: token)
            guard let given = request.header("x-twilio-signature"),
                Crypto.constantTimeEqual(Array(given.utf8), Array(expected.utf8))
            else {
                return .response(
                    .error(PollcastError(.forbidden, "the X-Twilio-Signature does not match this request"))
                )
            }
        }
        let fields = Dictionary(form, uniquingKeysWith: { first, _ in first })
        guard let from = fields["From"]?.trimmedWhitespace, !from.isEmpty else {
            return .response(.error(.badRequest("From is missing")))
        }
        // Twilio signs names and values run together: a captured request can be re-split
        // (From swallowing the parameters after it) and still verify. Only a real number
        // and a real message id are taken, and each message id once.
        guard Self.isPhoneNumber(from) else { return .response(.error(.badRequest("From is not a phone number"))) }
        let sid = fields["MessageSid"] ?? fields["SmsMessageSid"]
        if settings.authToken != nil {
            guard let sid, Self.isMessageSid(sid) else {
                return .response(.error(.badRequest("MessageSid is missing or not Twilio's")))
            }
        }
        if let sid, !firstSighting(of: sid) { return .response(Self.twiml(nil)) }
        let phone = phoneKey(from)
        guard limiter.take(phone, now: monotonicSeconds()) else { return .response(Self.twiml(nil)) }
        do {
            return try text(fields["Body"] ?? "", from: phone, exchange: request.exchange, publicURL: publicURL)
        } catch {
            return .response(Self.twiml(Self.explain(error)))
        }
    }

    /// `+` and 3 to 15 digits (E.164, or a short code), maybe after `whatsapp:`; the
    /// spaces, dashes and brackets people type are allowed.
    static func isPhoneNumber(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.hasPrefix("whatsapp:") { rest = rest.dropFirst(9) }
        if rest.hasPrefix("+") { rest = rest.dropFirst() }
        var digits = 0
        for c in rest.unicodeScalars {
            if ("0"..."9").contains(c) {
                digits += 1
            } else if !" -().".unicodeScalars.contains(c) {
                return false
            }
        }
        return (3...15).contains(digits)
    }

    /// `SM` or `MM` and 32 hex digits.
    static func isMessageSid(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count == 34, u[0] == 0x53 || u[0] == 0x4D, u[1] == 0x4D else { return false }
        return u[2...].allSatisfy {
            (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0)
        }
    }

    /// Whether a message id is new (Twilio's retries, replays). Memory only, and
    /// forgotten all at once past 100,000 ids or at a restart: a replay after that is
    /// taken again (the answer is idempotent; after a clear it counts in the new round).
    private func firstSighting(of sid: String) -> Bool {
        seen.withLock { seen in
            if seen.count >= 100_000 { seen.removeAll(keepingCapacity: true) }
            return seen.insert(sid).inserted
        }
    }

    /// The participant id and membership key of a phone: base64url of its HMAC.
    private func phoneKey(_ number: String) -> String {
        let digits = number.filter { $0 == "+" || $0.isNumber }
        return Crypto.base64URL(Crypto.hmacSHA256(key: key, "phone\n" + (digits.isEmpty ? number : digits)))
    }

    private func text(
        _ body: String,
        from phone: String,
        exchange: Int,
        publicURL: String
    ) throws(PollcastError) -> RouteResult {
        var (first, rest) = TextMessage.split(body)
        var room: String
        var joined = false
        let current = try membership(of: phone)
        if let current, staysInRoom(body, first: first, rest: rest, room: current.room) {
            room = current.room
            rest = body
        } else if let keywordRoom = presenter(forKeyword: first) {
            room = keywordRoom
            if current?.room != keywordRoom || rest.isEmpty {
                try join(phone, room: keywordRoom)
                joined = true
            }
        } else if let current {
            room = current.room
            rest = body
        } else {
            let shown = first.isEmpty ? "" : " \"\(TextMessage.echo(first.uppercased(), limit: 20))\""
            return .response(
                Self.twiml("Unknown keyword\(shown). Text the keyword shown on the screen, then your answer.")
            )
        }
        guard let (poll, _) = polls.activePoll(room: room) else {
            return .response(
                Self.twiml(
                    joined
                        ? "You joined \(keyword(of: room)). When a question opens, text your answer here."
                        : "No question is open in \(keyword(of: room)) right now."
                )
            )
        }
        if rest.trimmedWhitespace.isEmpty {
            let title = poll.title.count > 70 ? poll.title.prefix(69) + "…" : Substring(poll.title)
            return .response(
                Self.twiml("You joined \(keyword(of: room)). Q: \(title) \(TextMessage.howToAnswer(poll))")
            )
        }
        guard let reading = TextMessage.reading(rest, for: poll) else {
            let shown = TextMessage.echo(rest.trimmedWhitespace, limit: 12)
            return .response(Self.twiml("\"\(shown)\" is not an answer. \(TextMessage.howToAnswer(poll))"))
        }
        if poll.settings.identified {
            return .response(
                Self.twiml("This question asks for your name: answer at \(publicURL)/\(room) instead.")
            )
        }
        // Counted like answers over WebSocket and HTTP (acks and failures are counted
        // where every channel's are, when the commit's outcome is delivered).
        metrics.add(metrics.answersReceived)
        do {
            try polls.submit(
                room: room,
                participant: phone,
                name: nil,
                pollID: poll.id,
                choices: reading.choices,
                text: reading.text,
                words: reading.words,
                ref: nil,
                target: .sms(exchange)
            )
        } catch {
            metrics.refused(error.code)
            guard error.code == .badRequest else { throw error }
            // Too many letters, too long a text: said the way a phone can act on.
            let shown = TextMessage.echo(rest.trimmedWhitespace, limit: 12)
            return .response(Self.twiml("\"\(shown)\" is not an answer. \(TextMessage.howToAnswer(poll))"))
        }
        return .deferred
    }

    /// Whether a text from a phone in `room` answers that room's active poll as a whole,
    /// whatever its first word: "ABC" is three letters of a multi-select poll even when a
    /// presenter is called abc, and "art history" is two words of a word cloud even if
    /// one is named art. Only a text that the poll would not take as it is, or a single
    /// word that is another presenter's keyword, moves the phone to another room.
    private func staysInRoom(_ body: String, first: String, rest: String, room: String) -> Bool {
        guard let (poll, _) = polls.activePoll(room: room) else { return false }
        let keywordRoom = presenter(forKeyword: first)
        // "alice B" from alice's room: the keyword path takes it, without a new join.
        if keywordRoom == room { return false }
        switch poll.type {
        case .choice:
            // Letters the poll would accept: "bob" to a 26-option single-choice poll is
            // not an answer there (two letters too many), so BOB may be a keyword.
            guard let reading = TextMessage.reading(body, for: poll) else { return false }
            return (try? Answer.validated(choices: reading.choices, text: nil, words: nil, for: poll)) != nil
        case .open, .wordcloud: return keywordRoom == nil || !rest.isEmpty
        }
    }

    private func membership(of phone: String) throws(PollcastError) -> Membership? {
        let now = Date().timeIntervalSince1970
        // With several nodes the phone's next text may have joined another room through
        // another node: the store is asked every time.
        if store.shared == nil, let cached = members.withLock({ $0[phone] }) {
            return cached.expires > now ? cached : nil
        }
        let stored: (room: String, expires: Double)?
        do { stored = try store.smsMember(phone: phone) } catch {
            throw PollcastError(.unavailable, "cannot read who joined: \(error)")
        }
        guard let stored else { return nil }
        let membership = Membership(room: stored.room, expires: stored.expires)
        remember(phone, membership)
        return stored.expires > now ? membership : nil
    }

    private func join(_ phone: String, room: String) throws(PollcastError) {
        let membership = Membership(room: room, expires: Date().timeIntervalSince1970 + settings.joinSeconds)
        do { try store.setSMSMember(phone: phone, room: room, expires: membership.expires) } catch {
            throw PollcastError(.unavailable, "cannot save that you joined: \(error)")
        }
        remember(phone, membership)
    }

    /// Caches a membership; the cache forgets everything past 100,000 phones (the store
    /// keeps the truth), so made-up senders cannot grow it without bound.
    private func remember(_ phone: String, _ membership: Membership) {
        members.withLock { cache in
            if cache.count >= 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[phone] = membership
        }
    }

    // MARK: Replies

    /// The reply to an answer once its commit is done (or failed).
    static func reply(to outcome: AnswerOutcome) -> HTTPResponse {
        switch outcome.reply {
        case .failure:
            return twiml("Sorry, your answer was not saved. Please text it again.")
        case .success:
            let shown = outcome.mine.map { TextMessage.echo($0.answer.exportText, limit: 60) } ?? ""
            switch outcome.effect {
            case .first: return twiml("Got it: \(shown).")
            case .changed: return twiml("Changed to: \(shown).")
            case .unchanged: return twiml("You already sent: \(shown).")
            }
        }
    }

    /// What a refused answer's text says, in the words of a text message.
    static func explain(_ error: PollcastError) -> String {
        switch error.code {
        case .locked: "Responses to this question are closed."
        case .notActive: "This question is not open for answers now."
        case .alreadyAnswered: "You already answered, and this question does not take changes."
        case .rateLimited: "Too many answers; wait a moment and try again."
        case .unavailable: "Sorry, your answer was not saved. Please text it again."
        default: error.message
        }
    }

    /// A TwiML response with one message (or none, which sends nothing).
    static func twiml(_ message: String?) -> HTTPResponse {
        var twiml = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
        if let message { twiml += "<Message>" + xml(message) + "</Message>" }
        twiml += "</Response>"
        return HTTPResponse(status: 200, contentType: "text/xml; charset=utf-8", body: Array(twiml.utf8))
    }

    // MARK: Twilio's formats

    /// Twilio's request signature: base64 of HMAC-SHA1, keyed by the auth token, of the
    /// full URL followed by every POST parameter's name and value, sorted by name.
    static func signature(url: String, form: [(String, String)], authToken: String) -> String {
        let sorted = form.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let data = url + sorted.map { $0.0 + $0.1 }.joined()
        return Data(Crypto.hmacSHA1(key: Array(authToken.utf8), data)).base64EncodedString()
    }

    /// Parses an `application/x-www-form-urlencoded` body, keeping order and repeats.
    static func form(_ body: [UInt8]) throws(PollcastError) -> [(String, String)] {
        guard let text = String(validating: body, as: UTF8.self) else { throw .badRequest("the body is not UTF-8") }
        var pairs: [(String, String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ s: Substring) throws(PollcastError) -> String {
                guard let d = s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw .badRequest("a bad %-escape in \(s.prefix(40))")
                }
                return d
            }
            pairs.append((try decoded(kv[0]), kv.count > 1 ? try decoded(kv[1]) : ""))
        }
        return pairs
    }
}
