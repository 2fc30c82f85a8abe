import Foundation
import PollcastCore

/// Presenter accounts, their sessions and one-time login links.
public protocol AccountStore: Sendable {
    func insertAccount(_ account: AccountRecord) throws(StoreError)
    /// Replaces the password and ends every session of the account; false if there is no such account.
    func updatePassword(_ account: AccountRecord) throws(StoreError) -> Bool
    func account(_ username: String) throws(StoreError) -> AccountRecord?
    func usernames() throws(StoreError) -> [String]
    func insertSession(_ session: SessionRecord) throws(StoreError)
    func session(tokenHash: [UInt8]) throws(StoreError) -> SessionRecord?
    /// Every session that has not expired by `now`.
    func liveSessions(now: Double) throws(StoreError) -> [SessionRecord]
    func deleteSession(tokenHash: [UInt8]) throws(StoreError)
    func insertLoginLink(tokenHash: [UInt8], username: String, expiresAt: Double) throws(StoreError)
    /// Deletes the link and returns its account if it was valid at `now`: a link works once.
    func consumeLoginLink(tokenHash: [UInt8], now: Double) throws(StoreError) -> String?
}

/// Polls (with their state) and the moderation of open polls' responses.
public protocol PollRepository: Sendable {
    func allPolls() throws(StoreError) -> [Poll]
    /// The polls of one presenter.
    func polls(owner: String) throws(StoreError) -> [Poll]
    /// Inserts or replaces every poll given, in one transaction; if any poll named in
    /// `requiringNoAnswers` has an answer (in any round) when the transaction holds its
    /// row, nothing is saved and the error's code is `StoreError.hasAnswersCode`. An
    /// edit that reshapes a poll checks and saves at once, so no answer can slip in
    /// between (another node's, committing under the same row lock).
    func savePolls(_ polls: [Poll], requiringNoAnswers: Set<String>) throws(StoreError)
    /// Deletes a poll and all its answers.
    func deletePoll(id: String) throws(StoreError)
    /// Records that responses with `text` are hidden (or shown again) in one round.
    func setModerated(poll: String, round: Int, text: String, hidden: Bool) throws(StoreError)
    func moderated(poll: String, round: Int) throws(StoreError) -> [String]
}

extension PollRepository {
    /// Inserts or replaces every poll given, in one transaction.
    public func savePolls(_ polls: [Poll]) throws(StoreError) {
        try savePolls(polls, requiringNoAnswers: [])
    }
}

/// What a shared store decided for one answer of a batch, in the batch's order.
public enum AnswerVerdict: Sendable, Equatable {
    /// Stored as the participant's answer with this revision; `first` when they had none;
    /// `seq`, the poll's change number it took (the order every node shows responses in).
    case stored(revision: Int, first: Bool, seq: Int)
    /// The same answer again: nothing changed (acked like the first one).
    case unchanged(revision: Int)
    /// Not stored, for this reason (the poll closed, moved on, or allows no change).
    case refused(PollcastError)
}

/// The durable answer log. Answers arrive in batches (group commit: one transaction
/// per batch) from one writer thread.
public protocol AnswerLog: Sendable {
    /// Makes a batch durable in one transaction. A store only this process writes keeps
    /// the revisions it was given (a row keeps its highest) and returns `[]`; a shared
    /// store decides each answer against the database and returns one verdict per answer.
    func commitAnswers(_ answers: [StoredAnswer]) throws(StoreError) -> [AnswerVerdict]
    /// Whether anyone ever answered the poll, in any round.
    func hasAnswers(poll: String) throws(StoreError) -> Bool
    /// The answers of one round of a poll, oldest first.
    func answers(poll: String, round: Int) throws(StoreError) -> [StoredAnswer]
}

/// Keys, settings, and what text messages need: small tables next to the rest.
public protocol ServerSettingsStore: Sendable {
    /// A secret of this store (made by `make` on first use; the same for every node of a shared store).
    func secret(named name: String, make: () -> [UInt8]) throws(StoreError) -> [UInt8]
    func setting(_ name: String) throws(StoreError) -> String?
    func setSetting(_ name: String, _ value: String) throws(StoreError)
    /// Presenter to chosen SMS keyword.
    func smsKeywords() throws(StoreError) -> [String: String]
    func setSMSKeyword(_ keyword: String?, for username: String) throws(StoreError)
    func smsMember(phone: String) throws(StoreError) -> (room: String, expires: Double)?
    func setSMSMember(phone: String, room: String, expires: Double) throws(StoreError)
    /// Once per store: replaces every stored participant id with `key(poll, participant)`.
    @discardableResult
    func rekeyParticipants(once name: String, _ key: (String, String) -> String) throws(StoreError) -> Int
}

/// Everything pollcast keeps. SQLite (`PollStore`) for one process; PostgreSQL
/// (`PostgresStore`) when several nodes share one event.
public protocol Storage: AccountStore, PollRepository, AnswerLog, ServerSettingsStore {
    /// Nil for a store only this process writes; for a shared one, what tells this node
    /// about the other nodes' changes.
    var shared: (any SharedStorage)? { get }
    /// Where the store is, for the log (a path, or a database address without its password).
    var location: String { get }
}

/// What another node changed, as a shared store announces it.
public enum StoreChange: Sendable, Hashable {
    /// A presenter's polls (state, settings, a poll added or deleted).
    case room(String)
    /// New answers to a poll were committed.
    case results(String)
    /// The hidden responses of an open poll.
    case moderation(String)
    /// Accounts were added or sessions started or ended.
    case accounts
    /// SMS keywords.
    case keywords
    /// Notifications may have been missed (the listener reconnected): reload everything.
    case everything
}

/// A store several nodes write at once.
public protocol SharedStorage: Sendable {
    /// Starts listening for other nodes' changes; `handler` runs on the listener's thread.
    func listen(_ handler: @escaping @Sendable (StoreChange) -> Void)
    /// Tells every node (this one too) about changes committed here.
    func announce(_ changes: Set<StoreChange>) throws(StoreError)
    /// The answers of a round changed after `after` (a change number of the store), and
    /// the newest change number read.
    func answerChanges(
        poll: String,
        round: Int,
        after: Int
    ) throws(StoreError) -> (answers: [StoredAnswer], through: Int)
    /// Each poll's newest change number (the last answer any node stored), in one read.
    func changeNumbers(polls: [String]) throws(StoreError) -> [String: Int]
    /// Takes the room's lock across nodes (waits a few seconds at most, then throws), so
    /// two nodes never change one presenter's room at once.
    func lockRoom(_ owner: String) throws(StoreError)
    /// Gives it back (a lost connection gives it back by itself).
    func unlockRoom(_ owner: String)
    /// Stops the listener and closes the connections.
    func close()
}
