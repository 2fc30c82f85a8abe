import Foundation
import PollcastApp
import PollcastCore

/// The only code that talks to SQLite. Thread-safe: one connection behind a mutex,
/// so callers on any thread run one at a time (SQLite allows one writer anyway).
/// WAL with `synchronous=FULL` by default: a commit survives a power cut (see `Durability`).
public final class PollStore: Storage {
    public let path: String
    public var location: String { path }
    /// Only this process writes it.
    public var shared: (any SharedStorage)? { nil }
    private let connection: Locked<SQLiteConnection>

    /// Opens (creating if needed) the store in `directory`.
    ///
    /// A folder it creates is made 0700, and the database files are 0600 (also those of
    /// an older store): they hold participant ids (enough to answer as someone), names,
    /// open texts and password hashes. A folder that already exists keeps its mode (it
    /// may be shared on purpose); SQLite gives its -wal and -shm files the database's mode.
    public init(directory: String, durability: Durability = .full) throws(StoreError) {
        do {
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(
                    atPath: directory,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
            }
        } catch {
            throw StoreError(code: -1, message: "cannot create data directory \(directory): \(error)")
        }
        path = (directory as NSString).appendingPathComponent("pollcast.sqlite")
        try Self.restrictFiles(path)
        let db = try SQLiteConnection(path: path)
        try db.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=\(durability == .full ? "FULL" : "NORMAL");
            PRAGMA busy_timeout=5000;
            PRAGMA foreign_keys=ON;
            """
        )
        try Self.migrate(db)
        connection = Locked(db)
    }

    /// Creates the database file 0600 before SQLite does (SQLite would use the umask),
    /// and narrows the files of an older store that were made readable to others.
    private static func restrictFiles(_ path: String) throws(StoreError) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(code: -1, message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            guard chmod(file, 0o600) == 0 else {
                throw StoreError(code: -1, message: "cannot make \(file) private: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func migrate(_ db: SQLiteConnection) throws(StoreError) {
        try db.execute(
            """
            CREATE TABLE IF NOT EXISTS accounts(
                username TEXT PRIMARY KEY, password_hash BLOB NOT NULL, salt BLOB NOT NULL,
                iterations INTEGER NOT NULL, created REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS sessions(
                token_hash BLOB PRIMARY KEY, username TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
                csrf TEXT NOT NULL, expires REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS login_links(
                token_hash BLOB PRIMARY KEY, username TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
                expires REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS polls(
                id TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
                type TEXT NOT NULL, title TEXT NOT NULL, options TEXT NOT NULL, settings TEXT NOT NULL,
                active INTEGER NOT NULL, hidden INTEGER NOT NULL, locked INTEGER NOT NULL,
                revealed INTEGER NOT NULL, round INTEGER NOT NULL, created REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS polls_owner ON polls(owner);
            CREATE TABLE IF NOT EXISTS answers(
                poll TEXT NOT NULL REFERENCES polls ON DELETE CASCADE, round INTEGER NOT NULL,
                participant TEXT NOT NULL, name TEXT, answer TEXT NOT NULL, revision INTEGER NOT NULL,
                time REAL NOT NULL, PRIMARY KEY(poll, round, participant)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS moderation(
                poll TEXT NOT NULL REFERENCES polls ON DELETE CASCADE, round INTEGER NOT NULL, text TEXT NOT NULL,
                PRIMARY KEY(poll, round, text)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sms_keywords(
                username TEXT PRIMARY KEY REFERENCES accounts ON DELETE CASCADE, keyword TEXT NOT NULL UNIQUE)
                WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sms_members(
                phone TEXT PRIMARY KEY, room TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
                expires REAL NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS sms_members_expires ON sms_members(expires);
            """
        )
    }

    /// Every store call goes through here: one at a time, never from a forbidden thread.
    private func access<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        StoreThreads.assertAllowed()
        return try connection.withLock { (db) throws(StoreError) -> T in try body(db) }
    }

    // MARK: Accounts

    public func insertAccount(_ account: AccountRecord) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.run(
                "INSERT INTO accounts(username, password_hash, salt, iterations, created) VALUES(?,?,?,?,?)",
                [
                    .text(account.username), .blob(account.passwordHash), .blob(account.salt), .int(account.iterations),
                    .double(account.createdAt),
                ]
            )
        }
    }

    /// Replaces the password and ends every session of the account.
    public func updatePassword(_ account: AccountRecord) throws(StoreError) -> Bool {
        try access { (db) throws(StoreError) -> Bool in
            try db.transaction { () throws(StoreError) -> Bool in
                try db.run(
                    "UPDATE accounts SET password_hash=?, salt=?, iterations=? WHERE username=?",
                    [
                        .blob(account.passwordHash), .blob(account.salt), .int(account.iterations),
                        .text(account.username),
                    ]
                )
                guard db.changes == 1 else { return false }
                try db.run("DELETE FROM sessions WHERE username=?", [.text(account.username)])
                return true
            }
        }
    }

    public func account(_ username: String) throws(StoreError) -> AccountRecord? {
        try access { (db) throws(StoreError) -> AccountRecord? in
            var found: AccountRecord?
            try db.run(
                "SELECT username, password_hash, salt, iterations, created FROM accounts WHERE username=?",
                [.text(username)]
            ) { row in
                found = AccountRecord(
                    username: row.text(0),
                    passwordHash: row.blob(1),
                    salt: row.blob(2),
                    iterations: row.int(3),
                    createdAt: row.double(4)
                )
            }
            return found
        }
    }

    public func usernames() throws(StoreError) -> [String] {
        try access { (db) throws(StoreError) -> [String] in
            var names: [String] = []
            try db.run("SELECT username FROM accounts ORDER BY username") { row in names.append(row.text(0)) }
            return names
        }
    }

    // MARK: Sessions and one-time login links

    public func insertSession(_ session: SessionRecord) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.run(
                "INSERT INTO sessions(token_hash, username, csrf, expires) VALUES(?,?,?,?)",
                [
                    .blob(session.tokenHash), .text(session.username), .text(session.csrfToken),
                    .double(session.expiresAt),
                ]
            )
        }
    }

    public func session(tokenHash: [UInt8]) throws(StoreError) -> SessionRecord? {
        try access { (db) throws(StoreError) -> SessionRecord? in
            var found: SessionRecord?
            try db.run(
                "SELECT token_hash, username, csrf, expires FROM sessions WHERE token_hash=?",
                [.blob(tokenHash)]
            ) {
                row in
                found = SessionRecord(
                    tokenHash: row.blob(0),
                    username: row.text(1),
                    csrfToken: row.text(2),
                    expiresAt: row.double(3)
                )
            }
            return found
        }
    }

    /// Every session that has not expired by `now`.
    public func liveSessions(now: Double) throws(StoreError) -> [SessionRecord] {
        try access { (db) throws(StoreError) -> [SessionRecord] in
            var found: [SessionRecord] = []
            try db.run(
                "SELECT token_hash, username, csrf, expires FROM sessions WHERE expires>?",
                [.double(now)]
            ) { row in
                found.append(
                    SessionRecord(
                        tokenHash: row.blob(0),
                        username: row.text(1),
                        csrfToken: row.text(2),
                        expiresAt: row.double(3)
                    )
                )
            }
            return found
        }
    }

    /// A secret of this store (32 random bytes made by `make` on first use): keys for
    /// MACs that must survive a restart and stay inside the data folder.
    public func secret(named name: String, make: () -> [UInt8]) throws(StoreError) -> [UInt8] {
        try access { (db) throws(StoreError) -> [UInt8] in
            try db.transaction { () throws(StoreError) -> [UInt8] in
                var value: [UInt8]?
                try db.run("SELECT value FROM secrets WHERE name=?", [.text(name)]) { row in value = row.blob(0) }
                if let value, !value.isEmpty { return value }
                let made = make()
                try db.run("INSERT OR REPLACE INTO secrets(name, value) VALUES(?,?)", [.text(name), .blob(made)])
                return made
            }
        }
    }

    /// What the last `serve` on this store recorded (its public address, for
    /// `pollcast user login-link`), or nil.
    public func setting(_ name: String) throws(StoreError) -> String? {
        try access { (db) throws(StoreError) -> String? in
            var value: String?
            try db.run("SELECT value FROM settings WHERE name=?", [.text(name)]) { row in value = row.text(0) }
            return value
        }
    }

    public func setSetting(_ name: String, _ value: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.run("INSERT OR REPLACE INTO settings(name, value) VALUES(?,?)", [.text(name), .text(value)])
        }
    }

    // MARK: Text messages

    /// Presenter to chosen SMS keyword (presenters without one text by username).
    public func smsKeywords() throws(StoreError) -> [String: String] {
        try access { (db) throws(StoreError) -> [String: String] in
            var map: [String: String] = [:]
            try db.run("SELECT username, keyword FROM sms_keywords", []) { row in map[row.text(0)] = row.text(1) }
            return map
        }
    }

    /// Sets (or with nil, clears) a presenter's SMS keyword.
    public func setSMSKeyword(_ keyword: String?, for username: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            if let keyword {
                try db.run(
                    "INSERT OR REPLACE INTO sms_keywords(username, keyword) VALUES(?,?)",
                    [.text(username), .text(keyword)]
                )
            } else {
                try db.run("DELETE FROM sms_keywords WHERE username=?", [.text(username)])
            }
        }
    }

    /// The room a phone joined by keyword, and until when. `phone` is a keyed hash of
    /// the number, never the number.
    public func smsMember(phone: String) throws(StoreError) -> (room: String, expires: Double)? {
        try access { (db) throws(StoreError) -> (room: String, expires: Double)? in
            var found: (String, Double)?
            try db.run("SELECT room, expires FROM sms_members WHERE phone=?", [.text(phone)]) { row in
                found = (row.text(0), row.double(1))
            }
            return found
        }
    }

    /// Records that a phone (its keyed hash) joined `room` until `expires`, and forgets
    /// memberships that ended a day ago or more.
    public func setSMSMember(phone: String, room: String, expires: Double) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.run(
                    "INSERT OR REPLACE INTO sms_members(phone, room, expires) VALUES(?,?,?)",
                    [.text(phone), .text(room), .double(expires)]
                )
                try db.run(
                    "DELETE FROM sms_members WHERE expires < ?",
                    [.double(Date().timeIntervalSince1970 - 86_400)]
                )
            }
        }
    }

    /// Once per store, in one transaction: replaces every stored participant id with
    /// `key(poll, participant)` and records that it did (setting `name`). Returns the
    /// rows rewritten (0 on every later call).
    @discardableResult
    public func rekeyParticipants(once name: String, _ key: (String, String) -> String) throws(StoreError) -> Int {
        try access { (db) throws(StoreError) -> Int in
            try db.transaction { () throws(StoreError) -> Int in
                var done = false
                try db.run("SELECT 1 FROM settings WHERE name=?", [.text(name)]) { _ in done = true }
                if done { return 0 }
                var rows: [(poll: String, round: Int, participant: String)] = []
                try db.run("SELECT poll, round, participant FROM answers") { row in
                    rows.append((row.text(0), row.int(1), row.text(2)))
                }
                for row in rows {
                    try db.run(
                        "UPDATE answers SET participant=? WHERE poll=? AND round=? AND participant=?",
                        [
                            .text(key(row.poll, row.participant)), .text(row.poll), .int(row.round),
                            .text(row.participant),
                        ]
                    )
                }
                try db.run("INSERT INTO settings(name, value) VALUES(?, '1')", [.text(name)])
                return rows.count
            }
        }
    }

    public func deleteSession(tokenHash: [UInt8]) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.run("DELETE FROM sessions WHERE token_hash=?", [.blob(tokenHash)])
        }
    }

    public func insertLoginLink(tokenHash: [UInt8], username: String, expiresAt: Double) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.run(
                "INSERT INTO login_links(token_hash, username, expires) VALUES(?,?,?)",
                [.blob(tokenHash), .text(username), .double(expiresAt)]
            )
        }
    }

    /// Deletes the link and returns its account if it was valid at `now`: a link works once.
    public func consumeLoginLink(tokenHash: [UInt8], now: Double) throws(StoreError) -> String? {
        try access { (db) throws(StoreError) -> String? in
            try db.transaction { () throws(StoreError) -> String? in
                var username: String?
                try db.run("SELECT username, expires FROM login_links WHERE token_hash=?", [.blob(tokenHash)]) { row in
                    if row.double(1) > now { username = row.text(0) }
                }
                try db.run(
                    "DELETE FROM login_links WHERE token_hash=? OR expires<=?",
                    [.blob(tokenHash), .double(now)]
                )
                return username
            }
        }
    }

    // MARK: Polls

    public func allPolls() throws(StoreError) -> [Poll] {
        try readPolls("", [])
    }

    public func polls(owner: String) throws(StoreError) -> [Poll] {
        try readPolls("WHERE owner=?", [.text(owner)])
    }

    private func readPolls(_ filter: String, _ arguments: [SQLValue]) throws(StoreError) -> [Poll] {
        try access { (db) throws(StoreError) -> [Poll] in
            var polls: [Poll] = []
            var broken: StoreError?
            try db.run(
                """
                SELECT id, owner, type, title, options, settings, active, hidden, locked, revealed, round, created
                FROM polls \(filter)
                """,
                arguments
            ) { row in
                guard let type = PollType(rawValue: row.text(2)),
                    let options = try? JSONDecoder().decode([String].self, from: Data(row.text(4).utf8)),
                    let settings = try? JSONDecoder().decode(PollSettings.self, from: Data(row.text(5).utf8))
                else {
                    broken = StoreError(code: -1, message: "poll \(row.text(0)) is unreadable")
                    return
                }
                var state = PollState()
                state.active = row.bool(6)
                state.hidden = row.bool(7)
                state.locked = row.bool(8)
                state.revealed = row.bool(9)
                state.round = max(1, row.int(10))  // a reader iterates 1...round
                polls.append(
                    Poll(
                        id: row.text(0),
                        owner: row.text(1),
                        type: type,
                        title: row.text(3),
                        options: options,
                        settings: settings,
                        state: state,
                        createdAt: row.double(11)
                    )
                )
            }
            if let broken { throw broken }
            return polls
        }
    }

    public func savePolls(_ polls: [Poll], requiringNoAnswers: Set<String>) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                for id in requiringNoAnswers.sorted() {
                    var answered = false
                    try db.run("SELECT 1 FROM answers WHERE poll=? LIMIT 1", [.text(id)]) { _ in answered = true }
                    if answered {
                        throw StoreError(code: StoreError.hasAnswersCode, message: "poll \(id) has answers")
                    }
                }
                for poll in polls {
                    // A poll that cannot be encoded is refused, never saved as "[]" or "{}".
                    let encoder = JSONEncoder()
                    guard
                        let options = (try? encoder.encode(poll.options)).map({ String(decoding: $0, as: UTF8.self) }),
                        let settings = (try? encoder.encode(poll.settings)).map({ String(decoding: $0, as: UTF8.self) })
                    else { throw StoreError(code: -1, message: "poll \(poll.id) cannot be encoded") }
                    try db.run(
                        """
                        INSERT INTO polls(id, owner, type, title, options, settings, active, hidden, locked, revealed,
                            round, created)
                        VALUES(?,?,?,?,?,?,?,?,?,?,?,?)
                        ON CONFLICT(id) DO UPDATE SET type=excluded.type, title=excluded.title,
                            options=excluded.options, settings=excluded.settings, active=excluded.active,
                            hidden=excluded.hidden, locked=excluded.locked, revealed=excluded.revealed,
                            round=excluded.round
                        """,
                        [
                            .text(poll.id), .text(poll.owner), .text(poll.type.rawValue), .text(poll.title),
                            .text(options),
                            .text(settings), .int(poll.state.active ? 1 : 0), .int(poll.state.hidden ? 1 : 0),
                            .int(poll.state.locked ? 1 : 0), .int(poll.state.revealed ? 1 : 0), .int(poll.state.round),
                            .double(poll.createdAt),
                        ]
                    )
                }
            }
        }
    }

    /// Deletes a poll and all its answers.
    public func deletePoll(id: String) throws(StoreError) {
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.run("DELETE FROM answers WHERE poll=?", [.text(id)])
                try db.run("DELETE FROM moderation WHERE poll=?", [.text(id)])
                try db.run("DELETE FROM polls WHERE id=?", [.text(id)])
            }
        }
    }

    // MARK: Moderation (open polls)

    /// Records that responses with `text` are hidden (or shown again) in one round.
    public func setModerated(poll: String, round: Int, text: String, hidden: Bool) throws(StoreError) {
        try access { (db) throws(StoreError) in
            if hidden {
                try db.run(
                    "INSERT OR IGNORE INTO moderation(poll, round, text) VALUES(?,?,?)",
                    [.text(poll), .int(round), .text(text)]
                )
            } else {
                try db.run(
                    "DELETE FROM moderation WHERE poll=? AND round=? AND text=?",
                    [.text(poll), .int(round), .text(text)]
                )
            }
        }
    }

    public func moderated(poll: String, round: Int) throws(StoreError) -> [String] {
        try access { (db) throws(StoreError) -> [String] in
            var texts: [String] = []
            try db.run("SELECT text FROM moderation WHERE poll=? AND round=?", [.text(poll), .int(round)]) { row in
                texts.append(row.text(0))
            }
            return texts
        }
    }

    // MARK: Answers

    /// Makes a batch of answers durable in one transaction (group commit). Each row keeps
    /// the highest revision: a write that arrives after a newer one changes nothing.
    @discardableResult
    public func commitAnswers(_ answers: [StoredAnswer]) throws(StoreError) -> [AnswerVerdict] {
        guard !answers.isEmpty else { return [] }
        try access { (db) throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                for a in answers {
                    try db.run(
                        """
                        INSERT INTO answers(poll, round, participant, name, answer, revision, time)
                        VALUES(?,?,?,?,?,?,?)
                        ON CONFLICT(poll, round, participant) DO UPDATE SET name=excluded.name,
                            answer=excluded.answer, revision=excluded.revision, time=excluded.time
                        WHERE excluded.revision > answers.revision
                        """,
                        [
                            .text(a.poll), .int(a.round), .text(a.participant), a.name.map { .text($0) } ?? .null,
                            .text(a.answer), .int(a.revision), .double(a.time),
                        ]
                    )
                }
            }
        }
        return []
    }

    /// Whether anyone ever answered the poll, in any round.
    public func hasAnswers(poll: String) throws(StoreError) -> Bool {
        try access { (db) throws(StoreError) -> Bool in
            var found = false
            try db.run("SELECT 1 FROM answers WHERE poll=? LIMIT 1", [.text(poll)]) { _ in found = true }
            return found
        }
    }

    /// The answers of one round of a poll, oldest first.
    public func answers(poll: String, round: Int) throws(StoreError) -> [StoredAnswer] {
        try access { (db) throws(StoreError) -> [StoredAnswer] in
            var rows: [StoredAnswer] = []
            try db.run(
                "SELECT participant, name, answer, revision, time FROM answers WHERE poll=? AND round=? ORDER BY time",
                [.text(poll), .int(round)]
            ) { row in
                rows.append(
                    StoredAnswer(
                        poll: poll,
                        round: round,
                        participant: row.text(0),
                        name: row.isNull(1) ? nil : row.text(1),
                        answer: row.text(2),
                        revision: row.int(3),
                        time: row.double(4)
                    )
                )
            }
            return rows
        }
    }
}
