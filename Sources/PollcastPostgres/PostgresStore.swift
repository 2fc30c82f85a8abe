import Foundation
import PollcastApp
import PollcastCore

#if canImport(Glibc)
import Glibc
#endif

/// The store when several nodes serve one event: PostgreSQL is the truth they share.
///
/// - Answers are decided here, not in one node's memory: each batch is one transaction
///   that locks the batch's poll rows (so a lock, clear or deactivation committed by any
///   node is seen), finds each participant's current answer of the round, stores the new
///   one with the next revision (or refuses it), and updates the per-option counts by
///   the batch's aggregated deltas. Each stored row takes the poll's next change number
///   (`seq`) under that row lock, so a node that read changes up to N never misses one
///   below N.
/// - Every other change (polls, moderation, accounts, sessions, keywords) sends a
///   notification on the channel `pollcast` in its own transaction, delivered to every
///   node's listener when it commits.
/// - `synchronous_commit` is on for the answers' transactions, whatever the server's
///   default: an ack means PostgreSQL has the answer on disk.
public final class PostgresStore: Storage, SharedStorage {
    public static let channel = "pollcast"

    public let location: String
    public var shared: (any SharedStorage)? { self }
    private let url: String
    /// Controls, reads and notifications (API threads and the follower).
    private let general: Locked<PGConnection>
    /// The answer writer's own connection, so a burst's commits never wait behind a read.
    private let writer: Locked<PGConnection>
    /// Holds the rooms' advisory locks (session-level, so they outlive the transactions
    /// a control makes on `general`); only controls use it, one at a time per node.
    private let locks: Locked<PGConnection>
    private let listener = Locked<ListenerState>(ListenerState())

    private struct ListenerState {
        var thread: Thread?
        var stopping = false
    }

    public init(url: String) throws(StoreError) {
        self.url = url
        location = Self.withoutPassword(url)
        let general = try PGConnection(url: url)
        try Self.migrate(general)
        self.general = Locked(general)
        self.writer = Locked(try PGConnection(url: url))
        self.locks = Locked(try PGConnection(url: url))
    }

    /// `postgres://user:secret@host/db` as `postgres://user@host/db`, for the log.
    static func withoutPassword(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "PostgreSQL" }
        parts.password = nil
        return parts.string ?? "PostgreSQL"
    }

    private static func migrate(_ db: PGConnection) throws(StoreError) {
        // Nodes starting together would race on CREATE TABLE IF NOT EXISTS; one at a time.
        try db.transaction { () throws(StoreError) in
            try db.query("SELECT pg_advisory_xact_lock(7243019)")
            for statement in schema { try db.query(statement) }
        }
    }

    private static let schema = [
        """
        CREATE TABLE IF NOT EXISTS accounts(
            username text PRIMARY KEY, password_hash bytea NOT NULL, salt bytea NOT NULL,
            iterations integer NOT NULL, created double precision NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS sessions(
            token_hash bytea PRIMARY KEY, username text NOT NULL REFERENCES accounts ON DELETE CASCADE,
            csrf text NOT NULL, expires double precision NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS login_links(
            token_hash bytea PRIMARY KEY, username text NOT NULL REFERENCES accounts ON DELETE CASCADE,
            expires double precision NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS polls(
            id text PRIMARY KEY, owner text NOT NULL REFERENCES accounts ON DELETE CASCADE,
            type text NOT NULL, title text NOT NULL, options text NOT NULL, settings text NOT NULL,
            active boolean NOT NULL, hidden boolean NOT NULL, locked boolean NOT NULL,
            revealed boolean NOT NULL, round integer NOT NULL, created double precision NOT NULL,
            answer_seq bigint NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX IF NOT EXISTS polls_owner ON polls(owner)",
        """
        CREATE TABLE IF NOT EXISTS answers(
            poll text NOT NULL REFERENCES polls ON DELETE CASCADE, round integer NOT NULL,
            participant text NOT NULL, name text, answer text NOT NULL, revision integer NOT NULL,
            time double precision NOT NULL, seq bigint NOT NULL,
            PRIMARY KEY(poll, round, participant))
        """,
        "CREATE INDEX IF NOT EXISTS answers_changes ON answers(poll, round, seq)",
        """
        CREATE TABLE IF NOT EXISTS option_counts(
            poll text NOT NULL REFERENCES polls ON DELETE CASCADE, round integer NOT NULL,
            option integer NOT NULL, count integer NOT NULL, PRIMARY KEY(poll, round, option))
        """,
        "CREATE TABLE IF NOT EXISTS secrets(name text PRIMARY KEY, value bytea NOT NULL)",
        "CREATE TABLE IF NOT EXISTS settings(name text PRIMARY KEY, value text NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS moderation(
            poll text NOT NULL REFERENCES polls ON DELETE CASCADE, round integer NOT NULL, text text NOT NULL,
            PRIMARY KEY(poll, round, text))
        """,
        """
        CREATE TABLE IF NOT EXISTS sms_keywords(
            username text PRIMARY KEY REFERENCES accounts ON DELETE CASCADE, keyword text NOT NULL UNIQUE)
        """,
        """
        CREATE TABLE IF NOT EXISTS sms_members(
            phone text PRIMARY KEY, room text NOT NULL REFERENCES accounts ON DELETE CASCADE,
            expires double precision NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS sms_members_expires ON sms_members(expires)",
    ]

    private func access<T>(_ body: (PGConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        StoreThreads.assertAllowed()
        return try general.withLock { (db) throws(StoreError) -> T in try body(db) }
    }

    /// A notification in the current transaction (sent when it commits).
    private static func notify(_ db: PGConnection, _ change: StoreChange) throws(StoreError) {
        try db.query("SELECT pg_notify($1, $2)", [channel, payload(change)])
    }

    static func payload(_ change: StoreChange) -> String {
        switch change {
        case .room(let owner): "room:\(owner)"
        case .results(let poll): "results:\(poll)"
        case .moderation(let poll): "moderation:\(poll)"
        case .accounts: "accounts"
        case .keywords: "keywords"
        case .everything: "everything"
        }
    }

    static func change(_ payload: String) -> StoreChange? {
        let (kind, rest) =
            payload.firstIndex(of: ":").map { (payload[..<$0], String(payload[payload.index(after: $0)...])) }
            ?? (payload[...], "")
        switch kind {
        case "room": return .room(rest)
        case "results": return .results(rest)
        case "moderation": return .moderation(rest)
        case "accounts": return .accounts
        case "keywords": return .keywords
        case "everything": return .everything
        default: return nil
        }
    }

    private static func double(_ text: String?) -> Double { text.flatMap(Double.init) ?? 0 }
    private static func int(_ text: String?) -> Int { text.flatMap(Int.init) ?? 0 }
    private static func bool(_ text: String?) -> Bool { text == "t" }
    private static func text(_ value: Double) -> String { "\(value)" }

    // MARK: Accounts

    public func insertAccount(_ account: AccountRecord) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.query(
                    "INSERT INTO accounts(username, password_hash, salt, iterations, created) VALUES($1,$2,$3,$4,$5)",
                    [
                        account.username, Bytea.text(account.passwordHash), Bytea.text(account.salt),
                        "\(account.iterations)", Self.text(account.createdAt),
                    ]
                )
                try Self.notify(db, .accounts)
            }
        }
    }

    public func updatePassword(_ account: AccountRecord) throws(StoreError) -> Bool {
        try access { (db) throws(StoreError) -> Bool in
            try db.transaction { () throws(StoreError) -> Bool in
                let updated = try db.query(
                    "UPDATE accounts SET password_hash=$1, salt=$2, iterations=$3 WHERE username=$4 RETURNING 1",
                    [
                        Bytea.text(account.passwordHash), Bytea.text(account.salt), "\(account.iterations)",
                        account.username,
                    ]
                )
                guard !updated.isEmpty else { return false }
                try db.query("DELETE FROM sessions WHERE username=$1", [account.username])
                try Self.notify(db, .accounts)
                return true
            }
        }
    }

    public func account(_ username: String) throws(StoreError) -> AccountRecord? {
        try access { (db) throws(StoreError) -> AccountRecord? in
            try db.query(
                "SELECT username, password_hash, salt, iterations, created FROM accounts WHERE username=$1",
                [username]
            ).first.map { row in
                AccountRecord(
                    username: row[0] ?? "",
                    passwordHash: Bytea.bytes(row[1]),
                    salt: Bytea.bytes(row[2]),
                    iterations: Self.int(row[3]),
                    createdAt: Self.double(row[4])
                )
            }
        }
    }

    public func usernames() throws(StoreError) -> [String] {
        try access { (db) throws(StoreError) -> [String] in
            try db.query("SELECT username FROM accounts ORDER BY username").compactMap { $0[0] }
        }
    }

    // MARK: Sessions and one-time login links

    public func insertSession(_ session: SessionRecord) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.query(
                    "INSERT INTO sessions(token_hash, username, csrf, expires) VALUES($1,$2,$3,$4)",
                    [Bytea.text(session.tokenHash), session.username, session.csrfToken, Self.text(session.expiresAt)]
                )
                try Self.notify(db, .accounts)
            }
        }
    }

    private static func sessionRecord(_ row: [String?]) -> SessionRecord {
        SessionRecord(
            tokenHash: Bytea.bytes(row[0]),
            username: row[1] ?? "",
            csrfToken: row[2] ?? "",
            expiresAt: double(row[3])
        )
    }

    public func session(tokenHash: [UInt8]) throws(StoreError) -> SessionRecord? {
        try access { (db) throws(StoreError) -> SessionRecord? in
            try db.query(
                "SELECT token_hash, username, csrf, expires FROM sessions WHERE token_hash=$1",
                [Bytea.text(tokenHash)]
            ).first.map(Self.sessionRecord)
        }
    }

    public func liveSessions(now: Double) throws(StoreError) -> [SessionRecord] {
        try access { (db) throws(StoreError) -> [SessionRecord] in
            try db.query(
                "SELECT token_hash, username, csrf, expires FROM sessions WHERE expires>$1",
                [Self.text(now)]
            ).map(Self.sessionRecord)
        }
    }

    public func deleteSession(tokenHash: [UInt8]) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.query("DELETE FROM sessions WHERE token_hash=$1", [Bytea.text(tokenHash)])
                try Self.notify(db, .accounts)
            }
        }
    }

    public func insertLoginLink(tokenHash: [UInt8], username: String, expiresAt: Double) throws(StoreError) {
        try access { (db) throws(StoreError) in
            _ = try db.query(
                "INSERT INTO login_links(token_hash, username, expires) VALUES($1,$2,$3)",
                [Bytea.text(tokenHash), username, Self.text(expiresAt)]
            )
        }
    }

    public func consumeLoginLink(tokenHash: [UInt8], now: Double) throws(StoreError) -> String? {
        try access { (db) throws(StoreError) -> String? in
            try db.transaction { () throws(StoreError) -> String? in
                let found = try db.query(
                    "DELETE FROM login_links WHERE token_hash=$1 RETURNING username, expires",
                    [Bytea.text(tokenHash)]
                )
                try db.query("DELETE FROM login_links WHERE expires<=$1", [Self.text(now)])
                guard let row = found.first, Self.double(row[1]) > now else { return nil }
                return row[0]
            }
        }
    }

    // MARK: Settings, secrets, text messages

    public func secret(named name: String, make: () -> [UInt8]) throws(StoreError) -> [UInt8] {
        try access { (db) throws(StoreError) -> [UInt8] in
            // Two nodes starting at once both offer one; the first stored is everyone's.
            try db.query(
                "INSERT INTO secrets(name, value) VALUES($1,$2) ON CONFLICT(name) DO NOTHING",
                [name, Bytea.text(make())]
            )
            let value = Bytea.bytes(try db.query("SELECT value FROM secrets WHERE name=$1", [name]).first?[0] ?? nil)
            guard !value.isEmpty else { throw StoreError(code: -1, message: "the secret \(name) is empty") }
            return value
        }
    }

    public func setting(_ name: String) throws(StoreError) -> String? {
        try access { (db) throws(StoreError) -> String? in
            try db.query("SELECT value FROM settings WHERE name=$1", [name]).first?[0] ?? nil
        }
    }

    public func setSetting(_ name: String, _ value: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            _ = try db.query(
                "INSERT INTO settings(name, value) VALUES($1,$2) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                [name, value]
            )
        }
    }

    public func smsKeywords() throws(StoreError) -> [String: String] {
        try access { (db) throws(StoreError) -> [String: String] in
            var map: [String: String] = [:]
            for row in try db.query("SELECT username, keyword FROM sms_keywords") {
                if let user = row[0], let word = row[1] { map[user] = word }
            }
            return map
        }
    }

    public func setSMSKeyword(_ keyword: String?, for username: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                if let keyword {
                    try db.query(
                        """
                        INSERT INTO sms_keywords(username, keyword) VALUES($1,$2)
                        ON CONFLICT(username) DO UPDATE SET keyword=excluded.keyword
                        """,
                        [username, keyword]
                    )
                } else {
                    try db.query("DELETE FROM sms_keywords WHERE username=$1", [username])
                }
                try Self.notify(db, .keywords)
            }
        }
    }

    public func smsMember(phone: String) throws(StoreError) -> (room: String, expires: Double)? {
        try access { (db) throws(StoreError) -> (room: String, expires: Double)? in
            try db.query("SELECT room, expires FROM sms_members WHERE phone=$1", [phone]).first.map { row in
                (row[0] ?? "", Self.double(row[1]))
            }
        }
    }

    public func setSMSMember(phone: String, room: String, expires: Double) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.query(
                    """
                    INSERT INTO sms_members(phone, room, expires) VALUES($1,$2,$3)
                    ON CONFLICT(phone) DO UPDATE SET room=excluded.room, expires=excluded.expires
                    """,
                    [phone, room, Self.text(expires)]
                )
                try db.query(
                    "DELETE FROM sms_members WHERE expires < $1",
                    [Self.text(Date().timeIntervalSince1970 - 86_400)]
                )
            }
        }
    }

    @discardableResult
    public func rekeyParticipants(once name: String, _ key: (String, String) -> String) throws(StoreError) -> Int {
        // Every PostgreSQL store was written with keyed ids from its first answer: only
        // the mark is recorded.
        try access { (db) throws(StoreError) -> Int in
            try db.query("INSERT INTO settings(name, value) VALUES($1, '1') ON CONFLICT(name) DO NOTHING", [name])
            return 0
        }
    }

    // MARK: Polls

    private static let pollColumns =
        "id, owner, type, title, options, settings, active, hidden, locked, revealed, round, created"

    private static func poll(_ row: [String?]) throws(StoreError) -> Poll {
        guard let type = PollType(rawValue: row[2] ?? ""),
            let options = try? JSONDecoder().decode([String].self, from: Data((row[4] ?? "").utf8)),
            let settings = try? JSONDecoder().decode(PollSettings.self, from: Data((row[5] ?? "").utf8))
        else { throw StoreError(code: -1, message: "poll \(row[0] ?? "") is unreadable") }
        var state = PollState()
        state.active = bool(row[6])
        state.hidden = bool(row[7])
        state.locked = bool(row[8])
        state.revealed = bool(row[9])
        state.round = max(1, int(row[10]))
        return Poll(
            id: row[0] ?? "",
            owner: row[1] ?? "",
            type: type,
            title: row[3] ?? "",
            options: options,
            settings: settings,
            state: state,
            createdAt: double(row[11])
        )
    }

    public func allPolls() throws(StoreError) -> [Poll] {
        try access { (db) throws(StoreError) -> [Poll] in
            var polls: [Poll] = []
            for row in try db.query("SELECT \(Self.pollColumns) FROM polls") { polls.append(try Self.poll(row)) }
            return polls
        }
    }

    public func polls(owner: String) throws(StoreError) -> [Poll] {
        try access { (db) throws(StoreError) -> [Poll] in
            var polls: [Poll] = []
            for row in try db.query("SELECT \(Self.pollColumns) FROM polls WHERE owner=$1", [owner]) {
                polls.append(try Self.poll(row))
            }
            return polls
        }
    }

    public func savePolls(_ polls: [Poll], requiringNoAnswers: Set<String>) throws(StoreError) {
        guard !polls.isEmpty else { return }
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                // The row lock first (an answer batch holds it until its commit), then
                // the check: an answer either committed before (seen here) or waits and
                // then meets the new shape (and is refused by it).
                let checked = requiringNoAnswers.sorted()
                if !checked.isEmpty {
                    try db.query(
                        "SELECT id FROM polls WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                        [Self.arrayLiteral(checked)]
                    )
                    let answered = try db.query(
                        "SELECT DISTINCT poll FROM answers WHERE poll = ANY($1::text[])",
                        [Self.arrayLiteral(checked)]
                    )
                    if let row = answered.first {
                        throw StoreError(code: StoreError.hasAnswersCode, message: "poll \(row[0] ?? "") has answers")
                    }
                }
                let encoder = JSONEncoder()
                // Rows in id order, the order answer batches lock them in: no deadlock.
                for poll in polls.sorted(by: { $0.id < $1.id }) {
                    guard
                        let options = (try? encoder.encode(poll.options)).map({ String(decoding: $0, as: UTF8.self) }),
                        let settings = (try? encoder.encode(poll.settings)).map({ String(decoding: $0, as: UTF8.self) })
                    else { throw StoreError(code: -1, message: "poll \(poll.id) cannot be encoded") }
                    try db.query(
                        """
                        INSERT INTO polls(\(Self.pollColumns))
                        VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
                        ON CONFLICT(id) DO UPDATE SET type=excluded.type, title=excluded.title,
                            options=excluded.options, settings=excluded.settings, active=excluded.active,
                            hidden=excluded.hidden, locked=excluded.locked, revealed=excluded.revealed,
                            round=excluded.round
                        """,
                        [
                            poll.id, poll.owner, poll.type.rawValue, poll.title, options, settings,
                            poll.state.active ? "t" : "f", poll.state.hidden ? "t" : "f",
                            poll.state.locked ? "t" : "f", poll.state.revealed ? "t" : "f",
                            "\(poll.state.round)", Self.text(poll.createdAt),
                        ]
                    )
                }
                for owner in Set(polls.map(\.owner)) { try Self.notify(db, .room(owner)) }
            }
        }
    }

    public func deletePoll(id: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                let owners = try db.query("DELETE FROM polls WHERE id=$1 RETURNING owner", [id])
                for row in owners { if let owner = row[0] { try Self.notify(db, .room(owner)) } }
            }
        }
    }

    // MARK: Moderation

    public func setModerated(poll: String, round: Int, text: String, hidden: Bool) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                if hidden {
                    try db.query(
                        "INSERT INTO moderation(poll, round, text) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
                        [poll, "\(round)", text]
                    )
                } else {
                    try db.query(
                        "DELETE FROM moderation WHERE poll=$1 AND round=$2 AND text=$3",
                        [poll, "\(round)", text]
                    )
                }
                try Self.notify(db, .moderation(poll))
            }
        }
    }

    public func moderated(poll: String, round: Int) throws(StoreError) -> [String] {
        try access { (db) throws(StoreError) -> [String] in
            try db.query("SELECT text FROM moderation WHERE poll=$1 AND round=$2", [poll, "\(round)"]).compactMap {
                $0[0]
            }
        }
    }

    // MARK: Answers

    public func commitAnswers(_ answers: [StoredAnswer]) throws(StoreError) -> [AnswerVerdict] {
        guard !answers.isEmpty else { return [] }
        StoreThreads.assertAllowed()
        return try writer.withLock { (db) throws(StoreError) -> [AnswerVerdict] in
            try db.transaction { () throws(StoreError) -> [AnswerVerdict] in try Self.decide(answers, in: db) }
        }
    }

    /// The body of an answer batch's transaction; see the type's comment. A handful of
    /// statements whatever the batch's size: the polls (locked), the participants'
    /// current answers, one insert of every row that changed, one update of the counts.
    private static func decide(_ answers: [StoredAnswer], in db: PGConnection) throws(StoreError) -> [AnswerVerdict] {
        let ids = Array(Set(answers.map(\.poll))).sorted()
        // Locked in id order (no deadlock between two nodes' batches), until the commit.
        var polls: [String: Poll] = [:]
        var seqs: [String: Int] = [:]
        for row in try db.query(
            "SELECT \(pollColumns), answer_seq FROM polls WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
            [arrayLiteral(ids)]
        ) {
            let poll = try poll(row)
            polls[poll.id] = poll
            seqs[poll.id] = int(row[12])
        }
        struct Key: Hashable {
            var poll: String
            var round: Int
            var participant: String
        }
        // Everyone's current answer, read once for the batch (the rows stay put: their
        // polls are locked, and every writer locks them first).
        var current: [Key: (answer: String, revision: Int)] = [:]
        for row in try db.query(
            """
            SELECT a.poll, a.round, a.participant, a.answer, a.revision
            FROM answers a JOIN unnest($1::text[], $2::int[], $3::text[]) AS b(poll, round, participant)
            ON a.poll = b.poll AND a.round = b.round AND a.participant = b.participant
            """,
            [
                arrayLiteral(answers.map(\.poll)), arrayLiteral(answers.map { "\($0.round)" }),
                arrayLiteral(answers.map(\.participant)),
            ]
        ) {
            current[Key(poll: row[0] ?? "", round: int(row[1]), participant: row[2] ?? "")] = (
                row[3] ?? "", int(row[4])
            )
        }
        struct CountKey: Hashable {
            var poll: String
            var round: Int
            var option: Int
        }
        var deltas: [CountKey: Int] = [:]
        /// The row each changed participant ends the batch with (a second answer in the
        /// same batch replaces the first: one row, the later revision and change number).
        var written: [Key: (answer: StoredAnswer, revision: Int, seq: Int)] = [:]
        var verdicts: [AnswerVerdict] = []
        verdicts.reserveCapacity(answers.count)
        for a in answers {
            guard let poll = polls[a.poll], poll.state.active else {
                verdicts.append(.refused(PollcastError(.notActive, "this poll is not open for answers now")))
                continue
            }
            guard !poll.state.locked else {
                verdicts.append(.refused(PollcastError(.locked, "responses to this poll are closed")))
                continue
            }
            guard poll.state.round == a.round else {
                verdicts.append(.refused(PollcastError(.notActive, "this poll started a new round; answer again")))
                continue
            }
            // The node judged the answer against its copy of the poll; another node may
            // have edited it since. The locked row is the poll: an answer that does not
            // fit it now is refused, never stored uncounted.
            let parsed = Answer(storageText: a.answer, for: poll)
            var fits =
                parsed != nil && (a.pollType ?? poll.type) == poll.type
                && (a.optionCount ?? poll.options.count) == poll.options.count
            if case .choices(let c)? = parsed, c.count > poll.settings.maxChoices { fits = false }
            guard fits else {
                verdicts.append(.refused(PollcastError(.notActive, "this poll was just changed; answer it again")))
                continue
            }
            guard !poll.settings.identified || a.name != nil else {
                verdicts.append(
                    .refused(PollcastError(.badRequest, "this poll now asks for your name; answer it again"))
                )
                continue
            }
            // Anonymous means anonymous, also when it became so a moment ago elsewhere.
            var a = a
            if !poll.settings.identified { a.name = nil }
            let key = Key(poll: a.poll, round: a.round, participant: a.participant)
            let previous = current[key]
            if let previous, previous.answer == a.answer {
                verdicts.append(.unchanged(revision: previous.revision))
                continue
            }
            if previous != nil, !poll.settings.allowChange {
                verdicts.append(.refused(PollcastError(.alreadyAnswered, "you already answered this poll")))
                continue
            }
            let revision = (previous?.revision ?? 0) + 1
            let seq = (seqs[a.poll] ?? 0) + 1
            seqs[a.poll] = seq
            current[key] = (a.answer, revision)
            written[key] = (a, revision, seq)
            // Counts per option move with the answer; option -1 counts respondents.
            if previous == nil { deltas[CountKey(poll: a.poll, round: a.round, option: -1), default: 0] += 1 }
            if poll.type == .choice {
                if let old = previous.flatMap({ Answer(storageText: $0.answer, for: poll) }), case .choices(let c) = old
                {
                    for option in c { deltas[CountKey(poll: a.poll, round: a.round, option: option), default: 0] -= 1 }
                }
                if case .choices(let c)? = parsed {
                    for option in c { deltas[CountKey(poll: a.poll, round: a.round, option: option), default: 0] += 1 }
                }
            }
            verdicts.append(.stored(revision: revision, first: previous == nil, seq: seq))
        }
        guard !written.isEmpty else { return verdicts }
        let rows = Array(written.values)
        try db.query(
            """
            INSERT INTO answers(poll, round, participant, name, answer, revision, time, seq)
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[],
                $7::double precision[], $8::bigint[])
            ON CONFLICT(poll, round, participant) DO UPDATE SET name=excluded.name, answer=excluded.answer,
                revision=excluded.revision, time=excluded.time, seq=excluded.seq
            """,
            [
                arrayLiteral(rows.map(\.answer.poll)), arrayLiteral(rows.map { "\($0.answer.round)" }),
                arrayLiteral(rows.map(\.answer.participant)), arrayLiteral(rows.map(\.answer.name)),
                arrayLiteral(rows.map(\.answer.answer)), arrayLiteral(rows.map { "\($0.revision)" }),
                arrayLiteral(rows.map { text($0.answer.time) }), arrayLiteral(rows.map { "\($0.seq)" }),
            ]
        )
        let touched = Set(written.keys.map(\.poll))
        let moved = seqs.filter { touched.contains($0.key) }
        try db.query(
            "UPDATE polls SET answer_seq = s.seq FROM unnest($1::text[], $2::bigint[]) AS s(id, seq) WHERE polls.id = s.id",
            [arrayLiteral(Array(moved.keys)), arrayLiteral(moved.values.map { "\($0)" })]
        )
        let changed = deltas.filter { $0.value != 0 }
        if !changed.isEmpty {
            try db.query(
                """
                INSERT INTO option_counts(poll, round, option, count)
                SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[])
                ON CONFLICT(poll, round, option) DO UPDATE SET count=option_counts.count+excluded.count
                """,
                [
                    arrayLiteral(changed.keys.map(\.poll)), arrayLiteral(changed.keys.map { "\($0.round)" }),
                    arrayLiteral(changed.keys.map { "\($0.option)" }), arrayLiteral(changed.values.map { "\($0)" }),
                ]
            )
        }
        return verdicts
    }

    /// A PostgreSQL array literal: every element quoted (backslash and quote escaped),
    /// nil as NULL.
    static func arrayLiteral(_ values: [String?]) -> String {
        let quoted = values.map { v in
            guard let v else { return "NULL" }
            return "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }

    static func arrayLiteral(_ values: [String]) -> String { arrayLiteral(values.map { Optional($0) }) }

    private static func storedAnswer(poll: String, round: Int, _ row: [String?]) -> StoredAnswer {
        StoredAnswer(
            poll: poll,
            round: round,
            participant: row[0] ?? "",
            name: row[1],
            answer: row[2] ?? "",
            revision: int(row[3]),
            time: double(row[4])
        )
    }

    public func hasAnswers(poll: String) throws(StoreError) -> Bool {
        try access { (db) throws(StoreError) -> Bool in
            !(try db.query("SELECT 1 FROM answers WHERE poll=$1 LIMIT 1", [poll])).isEmpty
        }
    }

    public func answers(poll: String, round: Int) throws(StoreError) -> [StoredAnswer] {
        try access { (db) throws(StoreError) -> [StoredAnswer] in
            try db.query(
                "SELECT participant, name, answer, revision, time FROM answers WHERE poll=$1 AND round=$2 ORDER BY time",
                [poll, "\(round)"]
            ).map { Self.storedAnswer(poll: poll, round: round, $0) }
        }
    }

    /// The per-option counts kept with the answers (option -1: respondents), for checks.
    public func optionCounts(poll: String, round: Int) throws(StoreError) -> [Int: Int] {
        try access { (db) throws(StoreError) -> [Int: Int] in
            var counts: [Int: Int] = [:]
            for row in try db.query(
                "SELECT option, count FROM option_counts WHERE poll=$1 AND round=$2",
                [poll, "\(round)"]
            ) { counts[Self.int(row[0])] = Self.int(row[1]) }
            return counts
        }
    }

    // MARK: SharedStorage

    public func answerChanges(
        poll: String,
        round: Int,
        after: Int
    ) throws(StoreError) -> (answers: [StoredAnswer], through: Int) {
        try access { (db) throws(StoreError) -> (answers: [StoredAnswer], through: Int) in
            // The round's new rows and the poll's newest change number, in one statement
            // (one snapshot): every row of this round numbered up to it has been read, so
            // `through` may jump past other rounds' numbers and the sweep's comparison
            // with `changeNumbers` holds.
            let read = try db.query(
                """
                SELECT participant, name, answer, revision, time, seq FROM answers
                WHERE poll=$1 AND round=$2 AND seq>$3
                UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, answer_seq FROM polls WHERE id=$1
                ORDER BY 6
                """,
                [poll, "\(round)", "\(after)"]
            )
            let rows = read.filter { $0[0] != nil }
            let through = max(after, read.map { Self.int($0[5]) }.max() ?? after)
            let answers = rows.map { row in
                var answer = Self.storedAnswer(poll: poll, round: round, row)
                answer.changeNumber = Self.int(row[5])
                return answer
            }
            return (answers, through)
        }
    }

    public func changeNumbers(polls: [String]) throws(StoreError) -> [String: Int] {
        guard !polls.isEmpty else { return [:] }
        return try access { (db) throws(StoreError) -> [String: Int] in
            var numbers: [String: Int] = [:]
            for row in try db.query(
                "SELECT id, answer_seq FROM polls WHERE id = ANY($1::text[])",
                [Self.arrayLiteral(polls)]
            ) {
                if let id = row[0] { numbers[id] = Self.int(row[1]) }
            }
            return numbers
        }
    }

    public func announce(_ changes: Set<StoreChange>) throws(StoreError) {
        guard !changes.isEmpty else { return }
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                for change in changes { try Self.notify(db, change) }
            }
        }
    }

    public func listen(_ handler: @escaping @Sendable (StoreChange) -> Void) {
        let url = self.url
        let state = listener
        let thread = Thread {
            var connection: PGConnection?
            var lastHeard = monotonicSeconds()
            while !state.withLock({ $0.stopping }) {
                guard let db = connection, db.isConnected else {
                    do {
                        let db = try PGConnection(url: url)
                        try db.query("LISTEN \(Self.channel)")
                        connection = db
                        // Whatever was sent while not listening is unknown: reload it all.
                        handler(.everything)
                    } catch {
                        connection = nil
                        Thread.sleep(forTimeInterval: 0.5)
                    }
                    continue
                }
                var waiting = pollfd(fd: db.socket, events: Int16(POLLIN), revents: 0)
                _ = Glibc.poll(&waiting, 1, 200)
                guard db.consumeInput() else {
                    db.close()
                    connection = nil
                    continue
                }
                while let payload = db.nextNotification() {
                    lastHeard = monotonicSeconds()
                    if let change = Self.change(payload) { handler(change) }
                }
                // A quiet link may be a dead one: ask every 5 s (the keepalives and
                // tcp_user_timeout make a dead one fail this within seconds).
                if monotonicSeconds() - lastHeard > 5 {
                    lastHeard = monotonicSeconds()
                    do { try db.query("SELECT 1") } catch {
                        db.close()
                        connection = nil
                    }
                }
            }
            connection?.close()
        }
        thread.name = "pollcast-listen"
        listener.withLock {
            $0.thread = thread
            $0.stopping = false
        }
        thread.start()
    }

    public func lockRoom(_ owner: String) throws(StoreError) {
        StoreThreads.assertAllowed()
        // pg_try_advisory_lock in a loop rather than pg_advisory_lock: a node that froze
        // holding a room must not hang every other node's controls on it.
        let deadline = monotonicSeconds() + 5
        while true {
            let taken = try locks.withLock { (db) throws(StoreError) -> Bool in
                try db.query("SELECT pg_try_advisory_lock(7243020, hashtext($1))", [owner]).first?[0] == "t"
            }
            if taken { return }
            guard monotonicSeconds() < deadline else {
                throw StoreError(code: -1, message: "another node has been changing this room for 5 s")
            }
            usleep(10_000)
        }
    }

    public func unlockRoom(_ owner: String) {
        locks.withLock { db in
            // If this fails the connection is gone, and PostgreSQL released the lock with it.
            do { try db.query("SELECT pg_advisory_unlock(7243020, hashtext($1))", [owner]) } catch {}
        }
    }

    /// Stops the listener (its thread ends within 0.2 s and closes its connection); the
    /// other connections close when the store is released.
    public func close() {
        listener.withLock { $0.stopping = true }
    }
}
