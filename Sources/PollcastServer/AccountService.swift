import Foundation
import PollcastCore
import PollcastStore

/// Who a request is authenticated as.
public struct Presenter: Sendable, Equatable {
    public var username: String
    public var csrfToken: String
    public var tokenHash: [UInt8]
}

/// Accounts, passwords, sessions and one-time login links. Thread-safe; password
/// hashing is slow on purpose, so callers keep it off the lws service thread.
public final class AccountService: Sendable {
    public static let sessionLifetime: Double = 30 * 24 * 3600
    public static let loginLinkLifetime: Double = 24 * 3600
    public static let minimumPasswordLength = 8

    private let store: PollStore
    private let throttle = LoginThrottle()

    public init(store: PollStore) {
        self.store = store
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
        guard password.count >= Self.minimumPasswordLength else {
            throw .badRequest("password must have at least \(Self.minimumPasswordLength) characters")
        }
        if (try? store.account(username)) != nil {
            throw PollcastError(.conflict, "user \(username) already exists")
        }
        do {
            try store.insertAccount(Self.record(username: username, password: password))
        } catch {
            throw PollcastError(.conflict, "cannot create \(username): \(error)")
        }
        return password
    }

    /// Sets a new password (generated when nil, and returned); ends the account's sessions.
    @discardableResult
    public func setPassword(username: String, password: String?) throws(PollcastError) -> String {
        let password = password ?? Crypto.randomToken(bytes: 12)
        guard password.count >= Self.minimumPasswordLength else {
            throw .badRequest("password must have at least \(Self.minimumPasswordLength) characters")
        }
        let updated = (try? store.updatePassword(Self.record(username: username, password: password))) ?? false
        guard updated else { throw PollcastError(.notFound, "no user \(username)") }
        return password
    }

    public func usernames() -> [String] { (try? store.usernames()) ?? [] }

    /// Checks a password and opens a session. Failed attempts are throttled per account and per address.
    public func login(
        username: String,
        password: String,
        address: String,
        now: Double = Date().timeIntervalSince1970
    )
        throws(PollcastError) -> (token: String, presenter: Presenter)
    {
        try throttle.check(username: username, address: address, now: now)
        let account = try? store.account(username)
        // Hash even for an unknown user, so timing does not tell which usernames exist.
        let salt = account?.salt ?? [UInt8](repeating: 0, count: 16)
        let iterations = account?.iterations ?? Crypto.passwordIterations
        let hash = Crypto.pbkdf2(password: password, salt: salt, iterations: iterations)
        guard let account, Crypto.constantTimeEqual(hash, account.passwordHash) else {
            throttle.recordFailure(username: username, address: address, now: now)
            throw PollcastError(.unauthenticated, "wrong username or password")
        }
        throttle.recordSuccess(username: username)
        return try openSession(username: account.username, now: now)
    }

    /// The presenter a session token belongs to, if the session is live.
    public func authenticate(token: String, now: Double = Date().timeIntervalSince1970) -> Presenter? {
        let hash = Crypto.sha256(token)
        guard let session = try? store.session(tokenHash: hash),
            Crypto.constantTimeEqual(session.tokenHash, hash), session.expiresAt > now
        else { return nil }
        return Presenter(username: session.username, csrfToken: session.csrfToken, tokenHash: hash)
    }

    /// Ends a session on the server: the token stops working everywhere.
    public func logout(_ presenter: Presenter) {
        try? store.deleteSession(tokenHash: presenter.tokenHash)
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
        guard let username = try? store.consumeLoginLink(tokenHash: Crypto.sha256(token), now: now) else {
            throw PollcastError(.unauthenticated, "this login link is invalid, used or expired")
        }
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
        do { try store.insertSession(session) } catch {
            throw PollcastError(.unavailable, "cannot store the session: \(error)")
        }
        return (token, Presenter(username: username, csrfToken: session.csrfToken, tokenHash: session.tokenHash))
    }

    private static func record(username: String, password: String) -> AccountRecord {
        let salt = Crypto.randomBytes(16)
        return AccountRecord(
            username: username,
            passwordHash: Crypto.pbkdf2(password: password, salt: salt, iterations: Crypto.passwordIterations),
            salt: salt,
            iterations: Crypto.passwordIterations,
            createdAt: Date().timeIntervalSince1970
        )
    }
}

/// Failed-login throttling: per account (guessing one password) and per address
/// (spraying many accounts). Only logins are limited per address, never answers.
final class LoginThrottle: Sendable {
    static let window: Double = 15 * 60
    static let perAccount = 10
    static let perAddress = 50

    /// Failure times per key ("u:" account, "a:" address). Guarded by itself.
    private let failures = Locked<[String: [Double]]>([:])

    func check(username: String, address: String, now: Double) throws(PollcastError) {
        let (account, fromAddress) = failures.withLock { f in
            (Self.recent(f["u:" + username], now).count, Self.recent(f["a:" + address], now).count)
        }
        if account >= Self.perAccount || fromAddress >= Self.perAddress {
            throw PollcastError(.rateLimited, "too many failed logins; try again in a few minutes")
        }
    }

    func recordFailure(username: String, address: String, now: Double) {
        failures.withLock { f in
            for key in ["u:" + username, "a:" + address] {
                f[key] = Self.recent(f[key], now) + [now]
            }
            if f.count > 10_000 { f = f.filter { !Self.recent($0.value, now).isEmpty } }
        }
    }

    func recordSuccess(username: String) {
        _ = failures.withLock { $0.removeValue(forKey: "u:" + username) }
    }

    private static func recent(_ times: [Double]?, _ now: Double) -> [Double] {
        (times ?? []).filter { now - $0 < window }
    }
}
