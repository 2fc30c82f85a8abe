import Foundation
import PollcastCore

/// Who a request is authenticated as.
public struct Presenter: Sendable, Equatable {
    public var username: String
    public var csrfToken: String
    public var tokenHash: [UInt8]
}

/// What changed among accounts and sessions, for the parts that keep a view of them.
public enum AccountEvent: Sendable {
    /// A presenter was added: the room exists from now on.
    case created(String)
    /// One or more sessions ended (logout, a new password, expiry): their consoles close.
    case sessionsEnded
}

/// Accounts, passwords, sessions and one-time login links. Thread-safe; password
/// hashing is slow on purpose, so callers keep it off the lws service thread.
///
/// Live sessions are kept in memory (`sessions`), so authenticating a request or a
/// console's handshake never waits for the store: the service thread may call
/// `authenticate`. The store stays the truth: every change is written there first,
/// and `refresh` (run every few seconds) picks up what another process changed
/// (`pollcast user passwd` ends the account's sessions in the store).
public final class AccountService: Sendable {
    public static let sessionLifetime: Double = 30 * 24 * 3600
    public static let loginLinkLifetime: Double = 24 * 3600
    public static let minimumPasswordLength = 8
    public static let deviceCookie = "pollcast_device"

    private let store: any Storage
    private let throttle = LoginThrottle()
    private let events: @Sendable (AccountEvent) -> Void
    /// Live sessions by token hash. Guarded by itself; changed only under `sessionWrites`.
    private let sessions: Locked<[[UInt8]: SessionRecord]>
    /// Serialises a session change with its store write, so a `refresh` that read the
    /// store before a login cannot drop the session the login just added. Holds how
    /// many changes were made (a real value: ThreadSanitizer mis-tracks a `Locked(())`).
    private let sessionWrites = Locked<UInt64>(0)
    /// Key of the device cookies (HMAC-SHA256), kept in the store.
    private let deviceKey: [UInt8]
    /// PBKDF2 iterations for new passwords (and for the decoy hash of unknown users).
    private let iterations: Int

    public init(
        store: any Storage,
        iterations: Int = Crypto.passwordIterations,
        events: @escaping @Sendable (AccountEvent) -> Void = { _ in }
    ) throws(StoreError) {
        self.store = store
        self.iterations = iterations
        self.events = events
        let now = Date().timeIntervalSince1970
        sessions = Locked(Dictionary(try store.liveSessions(now: now).map { ($0.tokenHash, $0) }) { a, _ in a })
        deviceKey = try store.secret(named: "device-cookie") { Crypto.randomBytes(32) }
    }

    /// Creates a presenter. Without a password one is generated and returned (shown once).
    @discardableResult
    public func createAccount(username: String, password: String?) throws(PollcastError) -> String {
        guard Username.isValid(username) else {
            throw .badRequest(
                "username must match [a-z0-9][a-z0-9_-]{2,31} and not be one of: "
                    + Username.reserved.sorted().joined(separator: ", ")
            )
        }
        let password = password ?? Crypto.randomToken(bytes: 12)
        try Self.checkPassword(password)
        let existing: AccountRecord?
        do { existing = try store.account(username) } catch {
            throw PollcastError(.unavailable, "cannot read the accounts: \(error)")
        }
        if existing != nil { throw PollcastError(.conflict, "user \(username) already exists") }
        do {
            try store.insertAccount(record(username: username, password: password))
        } catch {
            throw PollcastError(.conflict, "cannot create \(username): \(error)")
        }
        events(.created(username))
        return password
    }

    /// Creates a presenter who has no password yet: the first start's account, reached by
    /// a one-time login link; the console then asks for a password. Stored with 0
    /// iterations, which no password ever matches.
    public func createAccountWithoutPassword(username: String) throws(PollcastError) {
        guard Username.isValid(username) else { throw .badRequest("username must match [a-z0-9][a-z0-9_-]{2,31}") }
        var record = record(username: username, password: Crypto.randomToken())
        record.iterations = 0
        do { try store.insertAccount(record) } catch {
            throw PollcastError(.conflict, "cannot create \(username): \(error)")
        }
        events(.created(username))
    }

    /// Whether the presenter can log in with a password (else only with a link).
    public func hasPassword(username: String) throws(PollcastError) -> Bool {
        do { return (try store.account(username)?.iterations ?? 0) > 0 } catch {
            throw PollcastError(.unavailable, "cannot read the accounts: \(error)")
        }
    }

    /// The presenter changes their own password from the console. The current one is
    /// required once there is one (a session left open on a shared computer must not be
    /// enough to take the account), and its checks count against the login throttle.
    /// Every session of the account ends, this one included; the new session returned
    /// replaces it, so the browser that changed the password stays logged in.
    public func changePassword(
        _ presenter: Presenter,
        current: String?,
        new password: String,
        address: String,
        now: Double = Date().timeIntervalSince1970
    ) throws(PollcastError) -> (token: String, presenter: Presenter) {
        try Self.checkPassword(password)
        let account: AccountRecord?
        do { account = try store.account(presenter.username) } catch {
            throw PollcastError(.unavailable, "cannot read the accounts: \(error)")
        }
        guard let account else { throw PollcastError(.notFound, "no user \(presenter.username)") }
        if account.iterations > 0 {
            guard let current, !current.isEmpty else {
                throw .badRequest("enter your current password to set a new one")
            }
            let attempt = try throttle.reserve(username: account.username, address: address, device: nil, now: now)
            let hash = Crypto.pbkdf2(
                password: Self.canonical(current),
                salt: account.salt,
                iterations: account.iterations
            )
            guard Crypto.constantTimeEqual(hash, account.passwordHash) else {
                throw PollcastError(.forbidden, "the current password is wrong")
            }
            throttle.succeeded(attempt)
        }
        try setPassword(username: account.username, password: password)
        return try openSession(username: account.username, now: now)
    }

    /// Sets a new password (generated when nil, and returned); ends the account's sessions.
    @discardableResult
    public func setPassword(username: String, password: String?) throws(PollcastError) -> String {
        let password = password ?? Crypto.randomToken(bytes: 12)
        try Self.checkPassword(password)
        let record = record(username: username, password: password)
        let updated = try sessionWrites.withLock { changes throws(PollcastError) -> Bool in
            changes += 1
            let updated: Bool
            do { updated = try store.updatePassword(record) } catch {
                throw PollcastError(.unavailable, "cannot save the password: \(error)")
            }
            if updated { sessions.withLock { $0 = $0.filter { $0.value.username != username } } }
            return updated
        }
        guard updated else { throw PollcastError(.notFound, "no user \(username)") }
        events(.sessionsEnded)
        return password
    }

    public func usernames() throws(StoreError) -> [String] { try store.usernames() }

    /// Checks a password and opens a session; also returns a new device cookie for
    /// this browser. The attempt is counted before the hash is computed, so parallel
    /// guesses cannot outrun the throttle; see `LoginThrottle`.
    public func login(
        username: String,
        password: String,
        address: String,
        device: String? = nil,
        now: Double = Date().timeIntervalSince1970
    )
        throws(PollcastError) -> (token: String, presenter: Presenter, device: String)
    {
        // No account can have such a name: answered like a wrong password, and not
        // counted, so made-up names cannot fill the throttle's memory.
        guard Username.isValid(username) else { throw PollcastError(.unauthenticated, "wrong username or password") }
        let account: AccountRecord?
        do { account = try store.account(username) } catch {
            throw PollcastError(.unavailable, "cannot read the accounts: \(error)")
        }
        let knownDevice = account.flatMap { a in device.flatMap { deviceNonce($0, of: a, now: now) } }
        let attempt = try throttle.reserve(username: username, address: address, device: knownDevice, now: now)
        // Hash even for an unknown user, so timing does not tell which usernames exist.
        // An account without a password (0 iterations) is hashed like an unknown one and never matches.
        let salt = account?.salt ?? [UInt8](repeating: 0, count: 16)
        let iterations = account.map { $0.iterations > 0 ? $0.iterations : self.iterations } ?? self.iterations
        let hash = Crypto.pbkdf2(password: Self.canonical(password), salt: salt, iterations: iterations)
        guard let account, account.iterations > 0, Crypto.constantTimeEqual(hash, account.passwordHash) else {
            throw PollcastError(.unauthenticated, "wrong username or password")
        }
        throttle.succeeded(attempt)
        let session = try openSession(username: account.username, now: now)
        return (session.token, session.presenter, deviceToken(for: account, now: now))
    }

    /// The presenter a session token belongs to, if the session is live. Memory only on
    /// the service thread. With a shared store, a token this node has not heard of yet is
    /// looked up in the store by the other threads: the login may have happened on
    /// another node a moment ago (no sticky sessions).
    public func authenticate(token: String, now: Double = Date().timeIntervalSince1970) -> Presenter? {
        let hash = Crypto.sha256(token)
        var found = sessions.withLock { $0[hash] }
        if found == nil, store.shared != nil, StoreThreads.isAllowed {
            // A store that cannot answer leaves the token unknown here (401, try again),
            // never accepted.
            do {
                if let stored = try store.session(tokenHash: hash), stored.expiresAt > now {
                    sessions.withLock { $0[hash] = stored }
                    found = stored
                }
            } catch {}
        }
        guard let session = found, Crypto.constantTimeEqual(session.tokenHash, hash), session.expiresAt > now
        else { return nil }
        return Presenter(username: session.username, csrfToken: session.csrfToken, tokenHash: hash)
    }

    /// Whether the session with this token hash is still live (memory only).
    public func isLive(tokenHash: [UInt8], now: Double = Date().timeIntervalSince1970) -> Bool {
        sessions.withLock { $0[tokenHash] }.map { $0.expiresAt > now } ?? false
    }

    /// Ends a session on the server: the token stops working everywhere, and the
    /// consoles opened with it close. A store failure is reported, never ignored: the
    /// token would stay valid.
    public func logout(_ presenter: Presenter) throws(PollcastError) {
        try sessionWrites.withLock { changes throws(PollcastError) in
            changes += 1
            do { try store.deleteSession(tokenHash: presenter.tokenHash) } catch {
                throw PollcastError(.unavailable, "cannot end the session: \(error)")
            }
            _ = sessions.withLock { $0.removeValue(forKey: presenter.tokenHash) }
        }
        events(.sessionsEnded)
    }

    /// Re-reads the live sessions from the store (another process may have ended some)
    /// and forgets expired ones; tells `events` when any ended. Returns the usernames,
    /// so the caller can learn of accounts added by another process.
    public func refresh(now: Double = Date().timeIntervalSince1970) throws(StoreError) -> [String] {
        let ended = try sessionWrites.withLock { changes throws(StoreError) -> Bool in
            changes += 1
            let stored = try store.liveSessions(now: now)
            let fresh = Dictionary(stored.map { ($0.tokenHash, $0) }) { a, _ in a }
            return sessions.withLock { current in
                let ended = current.keys.contains { fresh[$0] == nil }
                current = fresh
                return ended
            }
        }
        if ended { events(.sessionsEnded) }
        return try store.usernames()
    }
    /// A one-time login link token for `username`.
    public func createLoginLink(
        username: String,
        now: Double = Date().timeIntervalSince1970
    ) throws(PollcastError)
        -> String
    {
        let token = Crypto.randomToken()
        do {
            try store.insertLoginLink(
                tokenHash: Crypto.sha256(token),
                username: username,
                expiresAt: now + Self.loginLinkLifetime
            )
        } catch {
            throw PollcastError(.unavailable, "cannot store the login link: \(error)")
        }
        return token
    }

    /// Spends a one-time link and opens a session.
    public func redeemLoginLink(
        _ token: String,
        now: Double = Date().timeIntervalSince1970
    ) throws(PollcastError)
        -> (token: String, presenter: Presenter)
    {
        let username: String?
        do { username = try store.consumeLoginLink(tokenHash: Crypto.sha256(token), now: now) } catch {
            throw PollcastError(.unavailable, "cannot read the login link: \(error)")
        }
        guard let username else { throw PollcastError(.unauthenticated, "this login link is invalid, used or expired") }
        return try openSession(username: username, now: now)
    }

    private func openSession(
        username: String,
        now: Double
    ) throws(PollcastError) -> (token: String, presenter: Presenter) {
        let token = Crypto.randomToken()
        let session = SessionRecord(
            tokenHash: Crypto.sha256(token),
            username: username,
            csrfToken: Crypto.randomToken(bytes: 16),
            expiresAt: now + Self.sessionLifetime
        )
        try sessionWrites.withLock { changes throws(PollcastError) in
            changes += 1
            do { try store.insertSession(session) } catch {
                throw PollcastError(.unavailable, "cannot store the session: \(error)")
            }
            sessions.withLock { $0[session.tokenHash] = session }
        }
        return (token, Presenter(username: username, csrfToken: session.csrfToken, tokenHash: session.tokenHash))
    }

    public static let deviceLifetime: Double = 365 * 24 * 3600

    /// A device cookie for `account`: given on a successful login, it lets this browser
    /// log in as that presenter while its address or account is being guessed at by
    /// others. It names the account, a random nonce and when it was issued, and is
    /// signed with the store's key over those and the password's salt, so a new
    /// password voids every device cookie of the account.
    public func deviceToken(for account: AccountRecord, now: Double) -> String {
        let body = "\(account.username).\(Crypto.randomToken(bytes: 16)).\(Int(now))"
        return body + "." + deviceMAC(body, account)
    }

    /// The nonce of a valid, unexpired device cookie of `account`, else nil.
    public func deviceNonce(_ token: String, of account: AccountRecord, now: Double) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == account.username, let issued = Double(parts[2]),
            now - issued < Self.deviceLifetime, issued <= now + 60
        else { return nil }
        let body = parts[0...2].joined(separator: ".")
        guard Crypto.constantTimeEqual(Array(deviceMAC(body, account).utf8), Array(parts[3].utf8)) else { return nil }
        return String(parts[1])
    }

    private func deviceMAC(_ body: String, _ account: AccountRecord) -> String {
        Crypto.base64URL(Crypto.hmacSHA256(key: deviceKey, body + "." + Crypto.base64URL(account.salt)))
    }

    private static func checkPassword(_ password: String) throws(PollcastError) {
        guard password.count >= minimumPasswordLength else {
            throw .badRequest("password must have at least \(minimumPasswordLength) characters")
        }
        guard password.utf8.count <= 1024 else { throw .badRequest("password must be at most 1024 bytes") }
        // Nothing a keyboard cannot type again: control characters, direction overrides.
        let refused = password.unicodeScalars.contains { s in
            s.value < 0x20 || (0x7F...0x9F).contains(s.value) || (0x202A...0x202E).contains(s.value)
                || (0x2066...0x2069).contains(s.value)
        }
        guard !refused else { throw .badRequest("password must not contain control or direction characters") }
        // Eight spaces or eight zero-width characters are not a password.
        let visible = password.unicodeScalars.filter {
            !$0.properties.isWhitespace && $0.properties.generalCategory != .format
        }
        guard visible.count >= 4 else {
            throw .badRequest("password must have at least 4 visible characters (not only spaces)")
        }
    }

    /// A password as hashed: in Unicode's composed form (NFC), so "é" typed as one
    /// character or as "e" and an accent logs in the same.
    public static func canonical(_ password: String) -> String { password.precomposedStringWithCanonicalMapping }

    private func record(username: String, password: String) -> AccountRecord {
        let salt = Crypto.randomBytes(16)
        return AccountRecord(
            username: username,
            passwordHash: Crypto.pbkdf2(password: Self.canonical(password), salt: salt, iterations: iterations),
            salt: salt,
            iterations: iterations,
            createdAt: Date().timeIntervalSince1970
        )
    }
}

/// Failed-login throttling, decided before the password is hashed.
///
/// - per account and address: 5 failures in 15 minutes, then refused until the oldest
///   ages out (someone guessing one presenter's password);
/// - per account: 20 failures from anywhere, the same way (a guesser using many addresses);
/// - per address: past 30 failures the address is slowed to one attempt every 3 s,
///   never locked out (a classroom shares one NAT address).
///
/// A browser with a valid device cookie for the account (it logged in as that
/// presenter before) is held to none of these, only to 5 failures of its own: the
/// teacher still gets in while someone behind the class's address guesses at her
/// account or sprays others.
///
/// An attempt is counted as a failure when it is reserved and forgiven if the password
/// was right, so forty parallel guesses get five tries, not forty.
public final class LoginThrottle: Sendable {
    public static let window: Double = 15 * 60
    public static let perAccountAndAddress = 5
    public static let perAccount = 20
    public static let perAddress = 30
    public static let perDevice = 5
    public static let slowedInterval: Double = 3
    /// Keys kept at most; past it the oldest failures are forgotten first.
    public static let capacity = 50_000

    /// A reserved attempt: the keys it was counted under (the first is cleared on
    /// success), and its stamp.
    public struct Attempt {
        public var keys: [String]
        public var stamp: Double
    }

    private struct State {
        /// Failure times per key ("p:" account and address, "u:" account, "a:" address,
        /// "d:" device).
        public var failures: [String: [Double]] = [:]
        /// When a slowed address may try next.
        public var nextTry: [String: Double] = [:]
    }

    private let state = Locked(State())

    public func reserve(
        username: String,
        address: String,
        device: String?,
        now: Double
    ) throws(PollcastError) -> Attempt {
        try state.withLock { (s) throws(PollcastError) -> Attempt in
            if s.failures.count > Self.capacity || s.nextTry.count > Self.capacity { Self.prune(&s, now) }
            if let device {
                let key = "d:" + device
                try Self.check(s.failures[key], limit: Self.perDevice, now: now)
                s.failures[key] = Self.recent(s.failures[key], now) + [now]
                return Attempt(keys: [key], stamp: now)
            }
            let pair = "p:\(username)|\(address)"
            let account = "u:\(username)"
            let from = "a:\(address)"
            try Self.check(s.failures[pair], limit: Self.perAccountAndAddress, now: now)
            try Self.check(s.failures[account], limit: Self.perAccount, now: now)
            if Self.recent(s.failures[from], now).count >= Self.perAddress {
                let next = s.nextTry[from] ?? 0
                if next > now { throw Self.refusal(retryAfter: next - now) }
                s.nextTry[from] = now + Self.slowedInterval
            }
            let keys = [pair, account, from]
            for key in keys { s.failures[key] = Self.recent(s.failures[key], now) + [now] }
            return Attempt(keys: keys, stamp: now)
        }
    }

    /// The password was right: the attempt is forgiven, and so are its first key's failures.
    public func succeeded(_ attempt: Attempt) {
        state.withLock { s in
            for key in attempt.keys.dropFirst() {
                guard let i = s.failures[key]?.lastIndex(of: attempt.stamp) else { continue }
                s.failures[key]?.remove(at: i)
            }
            s.failures[attempt.keys[0]] = nil
        }
    }

    private static func check(_ times: [Double]?, limit: Int, now: Double) throws(PollcastError) {
        let recent = recent(times, now)
        if recent.count >= limit { throw refusal(retryAfter: recent[recent.count - limit] + window - now) }
    }

    /// Forgets what has aged out; if that is not enough, the keys whose newest failure
    /// is oldest, until half the capacity is left.
    private static func prune(_ s: inout State, _ now: Double) {
        s.failures = s.failures.filter { !recent($0.value, now).isEmpty }
        s.nextTry = s.nextTry.filter { $0.value > now }
        if s.failures.count > capacity {
            let keep = s.failures.sorted { ($0.value.last ?? 0) > ($1.value.last ?? 0) }.prefix(capacity / 2)
            s.failures = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }

    private static func refusal(retryAfter: Double) -> PollcastError {
        var error = PollcastError(.rateLimited, "too many failed logins; try again later")
        error.retryAfter = max(1, Int(retryAfter.rounded(.up)))
        return error
    }

    private static func recent(_ times: [Double]?, _ now: Double) -> [Double] {
        (times ?? []).filter { now - $0 < window }
    }
}
