import Foundation
import PollcastCore

/// An answer on its way to the store, with what is needed to ack it or undo it.
public struct AnswerTicket: Sendable {
    public var target: ReplyTarget
    public var ref: Int?
    public var participant: String
    public var tally: AnswerTally
    /// The accepted change, or nil for a resent identical answer (acked, never undone)
    /// and for every answer a shared store decides.
    public var change: (entry: AnswerTally.Entry, previous: AnswerTally.Entry?)?
    /// What was sent, for a shared store's verdict to be applied to the tally.
    public var answer: Answer
    public var name: String?
    /// When it arrived (`monotonicSeconds`), for the ack latency.
    public var received = monotonicSeconds()
}

/// The rooms and their polls, the live tallies, and every rule applied to them.
///
/// Reads (the ingest path on the service thread, public room views) take a snapshot
/// of `directory` under its mutex and never wait for the database. Mutations run one
/// at a time under `controlLock`: compute the new state, persist it, then publish it;
/// so the database and the published directory never disagree for longer than a commit.
public final class PollService: Sendable {
    public struct Directory: Sendable {
        public var rooms: [String: RoomState] = [:]
        /// Poll id to owner.
        public var owners: [String: String] = [:]
        /// Poll id to the tally of its current round.
        public var tallies: [String: AnswerTally] = [:]
        /// Choice polls past round 1: round 1's counts, for comparing rounds on screens
        /// (kept in memory: the service thread never reads the store).
        public var baselines: [String: ResultsSnapshot.RoundCounts] = [:]
        /// Shared store only: poll id to the store's change number its tally has read up to.
        public var through: [String: Int] = [:]
    }

    public let store: any Storage
    /// Set when several nodes share the store: the store decides answers, and this
    /// node's rooms and tallies follow what every node commits (see `follow`).
    public let shared: (any SharedStorage)?
    public let clock: ChangeClock
    private let writer: AnswerWriter<AnswerTicket>
    /// Told (on the mutating thread) when what a room shows changed: the transport sends
    /// its connections a new `state`.
    private let roomChanged: @Sendable (String) -> Void
    /// Answers per participant, whichever path (WebSocket or HTTP) they come by.
    public let answerLimiter: KeyedRateLimiter
    /// Guarded by itself; held only to copy or replace entries, never during I/O.
    private let directory = Locked(Directory())
    /// Serialises mutations (with their store writes) so two controls never interleave;
    /// holds how many there were (a real value: ThreadSanitizer mis-tracks a `Locked(())`
    /// and reported a race between two holders of this lock).
    private let controlLock = Locked(0)
    /// Keys the participant ids that are stored and tallied (two SipHash keys); see `respondent`.
    private let respondentKey: RespondentKey

    public init(
        store: any Storage,
        clock: ChangeClock,
        writer: AnswerWriter<AnswerTicket>,
        roomChanged: @escaping @Sendable (String) -> Void,
        answerLimiter: KeyedRateLimiter
    ) throws(StoreError) {
        self.store = store
        self.shared = store.shared
        self.clock = clock
        self.writer = writer
        self.roomChanged = roomChanged
        self.answerLimiter = answerLimiter
        let key = RespondentKey(try store.secret(named: "respondent-key") { Crypto.randomBytes(32) })
        respondentKey = key
        // Stores written before ids were keyed get their ids keyed once, in place.
        try store.rekeyParticipants(once: "participants-keyed") { poll, participant in
            Self.respondent(participant, poll: poll, key: key)
        }
        try load()
    }

    /// What a poll stores and tallies for a participant: a keyed hash of the id and the
    /// poll, never the id itself. The same phone is a different respondent in every poll,
    /// so an anonymous poll's rows cannot be joined to an identified poll's names (or to
    /// each other) through the id, even by whoever holds the database file. The key stays
    /// in the store, so a restart finds everyone's answer again.
    public static func respondent(_ participant: String, poll: String, key: RespondentKey) -> String {
        var message = Array(poll.utf8)
        message.append(0x0A)
        message.append(contentsOf: participant.utf8)
        let high = Crypto.sipHash24(key: key.first, message)
        let low = Crypto.sipHash24(key: key.second, message)
        return hex(high) + hex(low)
    }

    /// 16 lower-case hex digits, leading zeros kept.
    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private func respondent(_ participant: String, poll: String) -> String {
        Self.respondent(participant, poll: poll, key: respondentKey)
    }

    /// Rebuilds rooms and the current round's tally of every poll from the store.
    private func load() throws(StoreError) {
        var dir = Directory()
        for name in try store.usernames() { dir.rooms[name] = RoomState(presenter: name) }
        for poll in try store.allPolls() {
            dir.rooms[poll.owner, default: RoomState(presenter: poll.owner)].upsert(poll)
            dir.owners[poll.id] = poll.owner
            let (current, through) = try followedTally(of: poll, round: poll.state.round)
            dir.tallies[poll.id] = current
            dir.through[poll.id] = through
            if poll.type == .choice, poll.state.round > 1 {
                dir.baselines[poll.id] = Self.roundCounts(try tally(of: poll, round: 1).snapshot())
            }
        }
        directory.withLock { $0 = dir }
    }

    /// A tally of one round rebuilt from the store, and (for a shared store) the change
    /// number it has read up to.
    private func followedTally(of poll: Poll, round: Int) throws(StoreError) -> (AnswerTally, Int) {
        guard let shared else { return (try tally(of: poll, round: round), 0) }
        let fresh = try tally(of: poll, round: round, rows: [])
        let changes = try shared.answerChanges(poll: poll.id, round: round, after: 0)
        restore(changes.answers, into: fresh, of: poll)
        return (fresh, changes.through)
    }

    private func restore(_ rows: [StoredAnswer], into tally: AnswerTally, of poll: Poll) {
        for row in rows {
            guard let answer = Answer(storageText: row.answer, for: poll) else { continue }
            let stamp = row.changeNumber.map { UInt64(max(0, $0)) } ?? clock.next()
            tally.restore(
                participant: row.participant,
                entry: .init(answer: answer, revision: row.revision, stamp: stamp, name: row.name)
            )
        }
    }

    /// A tally of one round rebuilt from the store.
    private func tally(of poll: Poll, round: Int, rows: [StoredAnswer]? = nil) throws(StoreError) -> AnswerTally {
        let tally = AnswerTally(of: poll, round: round, clock: clock)
        let stored: [StoredAnswer]
        if let rows { stored = rows } else { stored = try store.answers(poll: poll.id, round: round) }
        restore(stored, into: tally, of: poll)
        if poll.type == .open {
            for text in try store.moderated(poll: poll.id, round: round) { tally.setModerated(text, hidden: true) }
        }
        return tally
    }

    // MARK: Reads

    /// Whether `username` has a room. Memory only, so any thread may ask, the lws
    /// service thread included, for any made-up name: accounts added while serving
    /// arrive through `addRooms` (at once in this process, within seconds from another).
    public func knownRoom(_ username: String) -> Bool {
        directory.withLock { $0.rooms[username] != nil }
    }

    /// Opens a room for each presenter that has none yet.
    public func addRooms(_ usernames: [String]) {
        controlLock.withLock { controls in
            controls += 1
            directory.withLock { d in
                for name in usernames where d.rooms[name] == nil { d.rooms[name] = RoomState(presenter: name) }
            }
        }
    }

    /// The active polls whose tally is behind the store: answers no one announced (a node
    /// died between its commit and its announcement). One read for all of them, so the
    /// follower can ask every second however many rooms are open.
    public func pollsBehind() throws(StoreError) -> [String] {
        guard let shared else { return [] }
        let known = directory.withLock { d in
            d.rooms.values.compactMap { $0.activePoll?.id }.map { ($0, d.through[$0] ?? 0) }
        }
        let newest = try shared.changeNumbers(polls: known.map(\.0))
        return known.filter { id, through in (newest[id] ?? 0) > through }.map(\.0)
    }

    /// Round 1's counts of a choice poll that is past it (memory only: the service
    /// thread asks, once per broadcast of a poll whose screens compare rounds).
    public func baseline(of id: String) -> ResultsSnapshot.RoundCounts? {
        directory.withLock { $0.baselines[id] }
    }

    public static func roundCounts(_ snapshot: ResultsSnapshot) -> ResultsSnapshot.RoundCounts? {
        guard case .counts(let counts) = snapshot.content else { return nil }
        return .init(round: snapshot.round, counts: counts, total: snapshot.total)
    }

    /// The room's active poll and its live tally.
    public func activePoll(room: String) -> (poll: Poll, tally: AnswerTally)? {
        directory.withLock { d in
            guard let poll = d.rooms[room]?.activePoll, let tally = d.tallies[poll.id] else { return nil }
            return (poll, tally)
        }
    }

    /// The participant's own answer to the room's active poll, current round.
    public func mine(room: String, participant: String?) -> MineAnswer? {
        guard let participant, let (poll, tally) = activePoll(room: room),
            let entry = tally.entry(of: respondent(participant, poll: poll.id))
        else { return nil }
        return MineAnswer(poll: poll.id, round: tally.round, answer: entry.answer)
    }

    public func polls(of owner: String) -> [Poll] {
        directory.withLock { $0.rooms[owner]?.orderedPolls ?? [] }
    }

    /// The poll if `owner` owns it. Another presenter's poll is reported as not found,
    /// so ids of other presenters' polls cannot be probed.
    public func poll(_ id: String, of owner: String) throws(PollcastError) -> Poll {
        let poll = directory.withLock { d in d.owners[id] == owner ? d.rooms[owner]?.polls[id] : nil }
        guard let poll else { throw PollcastError(.notFound, "no poll \(id) of yours") }
        return poll
    }

    /// Full results of a round (the current one when nil), also while hidden: the owner's view.
    public func results(_ id: String, of owner: String, round: Int?) throws(PollcastError) -> ResultsSnapshot {
        let poll = try self.poll(id, of: owner)
        let round = round ?? poll.state.round
        guard (1...poll.state.round).contains(round) else {
            throw PollcastError(.notFound, "poll \(id) has rounds 1 to \(poll.state.round)")
        }
        if round == poll.state.round, let live = directory.withLock({ $0.tallies[id] }), live.round == round {
            var snapshot = live.snapshot()
            if poll.settings.compareRounds { snapshot.baseline = baseline(of: id) }
            return snapshot
        }
        do { return try tally(of: poll, round: round).snapshot() } catch {
            throw PollcastError(.unavailable, "cannot read the results: \(error)")
        }
    }

    // MARK: Answers (ingest path: any thread, usually an lws service thread)

    /// Checks an answer against the room's rules, counts it, and queues it to be made
    /// durable; the ack (or error) reaches `target` with the commit's outcomes.
    public func submit(
        room: String,
        participant: String,
        name: String?,
        pollID: String?,
        choices: [Int]?,
        text: String?,
        words: [String]?,
        ref: Int?,
        target: ReplyTarget
    ) throws(PollcastError) {
        guard let (poll, tally) = activePoll(room: room), poll.id == pollID else {
            throw PollcastError(.notActive, "this poll is not open for answers now")
        }
        guard !poll.state.locked else { throw PollcastError(.locked, "responses to this poll are closed") }
        // Keyed by participant, never by address: a lecture hall behind one NAT is many people.
        guard answerLimiter.take(participant, now: monotonicSeconds()) else {
            throw PollcastError(.rateLimited, "too many answers; slow down")
        }
        var storedName: String?
        if poll.settings.identified {
            guard let name else {
                throw .badRequest(
                    "this poll asks for your name (\(TextLimits.screenName.characters.upperBound) characters at most) in hello"
                )
            }
            storedName = try TextLimits.screenName.checked(name)
        }
        let answer = try Answer.validated(choices: choices, text: text, words: words, for: poll)
        let now = Date().timeIntervalSince1970
        let participant = respondent(participant, poll: poll.id)
        let writer = self.writer
        if shared != nil {
            // The database decides (another node may hold this participant's answer); the
            // tally follows its verdict after the commit.
            writer.submit(
                StoredAnswer(
                    poll: poll.id,
                    round: tally.round,
                    participant: participant,
                    name: storedName,
                    answer: answer.storageText,
                    revision: 0,
                    time: now,
                    allowChange: poll.settings.allowChange,
                    pollType: poll.type,
                    optionCount: poll.options.count
                ),
                ticket: AnswerTicket(
                    target: target,
                    ref: ref,
                    participant: participant,
                    tally: tally,
                    change: nil,
                    answer: answer,
                    name: storedName
                )
            )
            return
        }
        /// Queues the durable write of `entry`; the ticket carries the change to undo if the commit fails.
        func queue(_ entry: AnswerTally.Entry, change: (AnswerTally.Entry, AnswerTally.Entry?)?) {
            writer.submit(
                StoredAnswer(
                    poll: poll.id,
                    round: tally.round,
                    participant: participant,
                    name: entry.name,
                    answer: answer.storageText,
                    revision: entry.revision,
                    time: now
                ),
                ticket: AnswerTicket(
                    target: target,
                    ref: ref,
                    participant: participant,
                    tally: tally,
                    change: change,
                    answer: answer,
                    name: storedName
                )
            )
        }
        let outcome = try tally.submit(
            participant: participant,
            answer: answer,
            name: storedName,
            allowChange: poll.settings.allowChange
        ) { entry, previous in
            queue(entry, change: (entry, previous))
        }
        if case .duplicate(let entry) = outcome {
            // Acked only after a commit, so it is never acked before the original write is durable.
            queue(entry, change: nil)
        }
    }

    /// Called on the writer thread after each group commit. A shared store returns one
    /// verdict per answer; a store of this process only, none (memory decided).
    public static func outcomes(
        of tickets: [AnswerTicket],
        result: Result<[AnswerVerdict], StoreError>,
        clock: ChangeClock
    ) -> [AnswerOutcome] {
        switch result {
        case .success(let verdicts) where !verdicts.isEmpty:
            guard verdicts.count == tickets.count else {
                let error = StoreError(
                    code: -1,
                    message: "the store returned \(verdicts.count) verdicts for \(tickets.count) answers"
                )
                return Self.outcomes(of: tickets, failure: error)
            }
            return zip(tickets, verdicts).map { t, verdict in outcome(of: t, verdict, clock: clock) }
        case .success:
            return Self.outcomes(of: tickets, failure: nil)
        case .failure(let error):
            return Self.outcomes(of: tickets, failure: error)
        }
    }

    /// A shared store's verdict on one answer, applied to this node's tally.
    private static func outcome(of t: AnswerTicket, _ verdict: AnswerVerdict, clock: ChangeClock) -> AnswerOutcome {
        let effect: AnswerEffect
        switch verdict {
        case .refused(let error):
            return AnswerOutcome(
                target: t.target,
                ref: t.ref,
                reply: .failure(error),
                mine: nil,
                effect: .unchanged,
                received: t.received
            )
        case .stored(let revision, let first, let seq):
            // Stamped with PostgreSQL's change number, as every node stamps this row: open
            // responses are newest first in the same order everywhere.
            t.tally.restore(
                participant: t.participant,
                entry: .init(answer: t.answer, revision: revision, stamp: UInt64(max(0, seq)), name: t.name)
            )
            effect = first ? .first : .changed
        case .unchanged:
            effect = .unchanged
        }
        return AnswerOutcome(
            target: t.target,
            ref: t.ref,
            reply: .success(AckFrame(ref: t.ref, poll: t.tally.pollID, round: t.tally.round)),
            mine: MineAnswer(poll: t.tally.pollID, round: t.tally.round, answer: t.answer),
            effect: effect,
            received: t.received
        )
    }

    public static func outcomes(of tickets: [AnswerTicket], failure: StoreError?) -> [AnswerOutcome] {
        tickets.map { t in
            if failure != nil, let change = t.change {
                t.tally.revert(participant: t.participant, entry: change.entry, previous: change.previous)
            }
            let entry = t.change?.entry ?? t.tally.entry(of: t.participant)
            let mine = entry.map { MineAnswer(poll: t.tally.pollID, round: t.tally.round, answer: $0.answer) }
            let reply: Result<AckFrame, PollcastError> =
                failure == nil
                ? .success(AckFrame(ref: t.ref, poll: t.tally.pollID, round: t.tally.round))
                : .failure(PollcastError(.unavailable, "your answer could not be saved; please send it again"))
            let effect: AnswerEffect =
                t.change == nil ? .unchanged : t.change?.previous == nil ? .first : .changed
            return AnswerOutcome(
                target: t.target,
                ref: t.ref,
                reply: reply,
                mine: mine,
                effect: effect,
                received: t.received
            )
        }
    }

    // MARK: Mutations (API threads)

    public func createPoll(owner: String, input: PollInput) throws(PollcastError) -> Poll {
        guard input.type != nil, input.title != nil else { throw .badRequest("type and title are required") }
        let base = Poll(
            id: Crypto.randomToken(bytes: 9),
            owner: owner,
            type: input.type ?? .choice,
            title: "",
            options: [],
            settings: PollSettings(),
            createdAt: Date().timeIntervalSince1970
        )
        let poll = try input.applied(to: base)
        return try mutate(owner: owner) { edit throws(PollcastError) in
            try persist([poll])
            edit.room.upsert(poll)
            edit.tallies[poll.id] = AnswerTally(of: poll, round: 1, clock: clock)
            return (poll, false)
        }
    }

    public func updatePoll(_ id: String, owner: String, input: PollInput) throws(PollcastError) -> Poll {
        try mutate(owner: owner) { edit throws(PollcastError) in
            guard let current = edit.room.polls[id], let tally = edit.tallies[id] else {
                throw PollcastError(.notFound, "no poll \(id) of yours")
            }
            let poll = try input.applied(to: current)
            // Stored answers are read back against the poll as it is now; a reshaped poll
            // would misread every earlier round (an option index past the end, a text as
            // choices), so its shape is fixed once anyone has answered it.
            let reshaped = poll.type != current.type || poll.options.count != current.options.count
            if reshaped {
                // No answer may slip into the old shape while this one is decided.
                tally.retire()
                let answered: Bool
                do { answered = try tally.total > 0 || store.hasAnswers(poll: id) } catch {
                    tally.unretire()
                    throw PollcastError(.unavailable, "cannot check the poll's answers: \(error)")
                }
                if answered {
                    tally.unretire()
                    throw PollcastError(
                        .conflict,
                        "this poll has answers (in this or an earlier round), so its type and number of options "
                            + "can no longer change; create a new poll instead"
                    )
                }
            }
            // A reshape saves only if the poll still has no answer when the save holds its
            // row: another node's answer may have committed since the check above.
            do throws(PollcastError) { try persist([poll], requiringNoAnswers: reshaped ? [id] : []) } catch {
                if reshaped { tally.unretire() }
                throw error
            }
            edit.room.upsert(poll)
            if reshaped {
                edit.tallies[id] = AnswerTally(of: poll, round: poll.state.round, clock: clock)
                // Nobody has answered any round of it (checked above).
                edit.baselines[id] =
                    poll.type == .choice && poll.state.round > 1
                    ? .init(round: 1, counts: Array(repeating: 0, count: poll.options.count), total: 0) : nil
            }
            return (poll, poll.state.active)
        }
    }

    /// Changes only how results are drawn (the presenter's live chart and counts/percent
    /// switches); the room sees a new `state` if the poll is active.
    public func display(
        _ id: String,
        owner: String,
        chart: ChartStyle?,
        showPercent: Bool?,
        compareRounds: Bool? = nil
    ) throws(PollcastError) -> Poll {
        guard chart != nil || showPercent != nil || compareRounds != nil else {
            throw .badRequest("send chart, showPercent or compareRounds")
        }
        if chart != nil || compareRounds == true, try poll(id, of: owner).type != .choice {
            throw .badRequest("chart types and comparing rounds apply to multiple-choice polls only")
        }
        var settings = PollInput.SettingsInput()
        settings.chart = chart
        settings.showPercent = showPercent
        settings.compareRounds = compareRounds
        return try updatePoll(id, owner: owner, input: PollInput(settings: settings))
    }

    /// Who answered what in a round of an identified poll, newest first. An anonymous
    /// poll stores no names, so it lists nobody.
    public func respondents(_ id: String, of owner: String, round: Int?) throws(PollcastError) -> Respondents {
        let poll = try self.poll(id, of: owner)
        let round = round ?? poll.state.round
        guard (1...poll.state.round).contains(round) else {
            throw PollcastError(.notFound, "poll \(id) has rounds 1 to \(poll.state.round)")
        }
        var list = Respondents(poll: id, round: round, identified: poll.settings.identified, responses: [])
        guard poll.settings.identified else { return list }
        let rows: [StoredAnswer]
        do { rows = try store.answers(poll: id, round: round) } catch {
            throw PollcastError(.unavailable, "cannot read the answers: \(error)")
        }
        list.responses = rows.reversed().map { row in
            let answer = Answer(storageText: row.answer, for: poll)
            var choices: [Int]?
            if case .choices(let c) = answer { choices = c }
            return .init(
                name: row.name ?? "",
                answer: answer?.exportText ?? row.answer,
                choices: choices,
                time: row.time
            )
        }
        return list
    }

    /// What anyone may see of a poll's results, by the public screen's rules: only the
    /// active poll of its room, its current round, and no content while hidden. Nil for
    /// a poll that is not active (or does not exist), so ids cannot be probed.
    public func publicResults(_ id: String) -> (poll: Poll, snapshot: ResultsSnapshot)? {
        let found = directory.withLock { d -> (Poll, AnswerTally)? in
            guard let owner = d.owners[id], let room = d.rooms[owner], let poll = room.activePoll, poll.id == id,
                let tally = d.tallies[id]
            else { return nil }
            return (poll.publicView, tally)
        }
        guard let (poll, tally) = found else { return nil }
        var snapshot = tally.snapshot()
        if poll.state.hidden { snapshot.content = .counts([]) }
        return (poll, snapshot)
    }

    /// Two rounds of a choice poll side by side (default: round 1 and the current one).
    public func compare(
        _ id: String,
        of owner: String,
        from: Int?,
        to: Int?
    ) throws(PollcastError) -> (Poll, RoundComparison) {
        let poll = try self.poll(id, of: owner)
        guard poll.type == .choice else { throw .badRequest("rounds can be compared for multiple-choice polls only") }
        let from = from ?? 1
        let to = to ?? poll.state.round
        for r in [from, to] where !(1...poll.state.round).contains(r) {
            throw PollcastError(.notFound, "poll \(id) has rounds 1 to \(poll.state.round)")
        }
        guard from != to else {
            throw .badRequest(
                "compare two different rounds (this poll has \(poll.state.round); clear it to start another)"
            )
        }
        do {
            let comparison = RoundComparison(
                poll: poll,
                from: from,
                fromRows: try store.answers(poll: id, round: from),
                to: to,
                toRows: try store.answers(poll: id, round: to)
            )
            return (poll, comparison)
        } catch {
            throw PollcastError(.unavailable, "cannot read the answers: \(error)")
        }
    }

    public func deletePoll(_ id: String, owner: String) throws(PollcastError) {
        try mutate(owner: owner) { edit throws(PollcastError) in
            guard let poll = edit.room.polls[id] else { throw PollcastError(.notFound, "no poll \(id) of yours") }
            do { try store.deletePoll(id: id) } catch { throw PollcastError(.unavailable, "cannot delete: \(error)") }
            _ = edit.room.remove(id)
            edit.tallies[id] = nil
            edit.baselines[id] = nil
            return ((), poll.state.active)
        }
    }

    /// Hides (or shows again) an open poll's responses with this exact text, in the current round.
    public func moderate(
        _ id: String,
        owner: String,
        text: String,
        hidden: Bool
    ) throws(PollcastError) -> ResultsSnapshot {
        // Under the control lock like every mutation: a `clear` cannot swap the round's
        // tally between the store write and the tally update.
        try controlLock.withLock { (controls: inout Int) throws(PollcastError) -> ResultsSnapshot in
            controls += 1
            let poll = try self.poll(id, of: owner)
            guard poll.type == .open else { throw .badRequest("only responses of open polls can be hidden") }
            // Any stored response can be hidden, also one saved before today's limits.
            let text = text.trimmedWhitespace
            guard !text.isEmpty else { throw .badRequest("name the response text to hide") }
            guard let tally = directory.withLock({ $0.tallies[id] }) else {
                throw PollcastError(.notFound, "no poll \(id)")
            }
            do {
                try store.setModerated(poll: id, round: tally.round, text: text, hidden: hidden)
            } catch {
                throw PollcastError(.unavailable, "cannot save the moderation: \(error)")
            }
            tally.setModerated(text, hidden: hidden)
            return tally.snapshot()
        }
    }

    public func apply(_ command: PollCommand, to id: String, owner: String) throws(PollcastError) -> Poll {
        try mutate(owner: owner) { edit throws(PollcastError) in
            guard let poll = edit.room.polls[id] else { throw PollcastError(.notFound, "no poll \(id) of yours") }
            let transition = try edit.room.apply(command, to: id)
            if transition.newRound, poll.type == .choice, poll.state.round == 1, let first = edit.tallies[id] {
                // Round 1 ends: closed to late answers first, so the counts kept for
                // comparing rounds are its final ones.
                first.retire()
                edit.baselines[id] = Self.roundCounts(first.snapshot())
            }
            do throws(PollcastError) { try persist(transition.changed) } catch {
                if transition.newRound, poll.state.round == 1 { edit.tallies[id]?.unretire() }
                throw error
            }
            if transition.newRound, let poll = edit.room.polls[id] {
                edit.tallies[id] = AnswerTally(of: poll, round: poll.state.round, clock: clock)
                if shared != nil, poll.type == .choice, poll.state.round == 2 {
                    // Round 1's final counts are PostgreSQL's, once the new round is
                    // committed (this node's tally may lack another node's last answers);
                    // if the read fails, the next reload of the room reads them.
                    do {
                        edit.baselines[id] = Self.roundCounts(try tally(of: poll, round: 1).snapshot())
                    } catch {
                        edit.baselines[id] = nil
                    }
                }
            }
            return (edit.room.polls[id] ?? poll, transition.roomChanged)
        }
    }

    /// One presenter's part of the directory, copied out for a mutation: the room and
    /// the live tally of each of its polls. A control costs the size of its own room,
    /// not of every room on the server.
    public struct RoomEdit {
        public var room: RoomState
        /// Poll id to the tally of its current round; a poll without one has none.
        public var tallies: [String: AnswerTally]
        /// Poll id to round 1's counts, for polls past it.
        public var baselines: [String: ResultsSnapshot.RoundCounts]
        /// Shared store: poll id to the change number its tally has read up to. A tally
        /// the mutation replaces starts again from 0 unless this is set for it.
        public var through: [String: Int]
    }

    /// Runs one mutation under the control lock on a copy of `owner`'s room, puts the
    /// room back if the mutation succeeded, and tells the service loop when what the
    /// room shows changed (the body returns its result and whether it did). Every
    /// change to the directory's rooms runs under the control lock, so the room cannot
    /// change between the copy and the put-back.
    private func mutate<T>(
        owner: String,
        _ body: (inout RoomEdit) throws(PollcastError) -> (T, roomChanged: Bool)
    ) throws(PollcastError) -> T {
        try controlLock.withLock { (controls: inout Int) throws(PollcastError) -> T in
            controls += 1
            if let shared {
                // One control on a room at a time across nodes too; and another node may
                // have changed this room a moment ago (no sticky sessions: the
                // presenter's last click may have gone there), so read it first.
                do { try shared.lockRoom(owner) } catch {
                    throw PollcastError(.unavailable, "cannot change the room now: \(error)")
                }
                defer { shared.unlockRoom(owner) }
                do { try syncRoom(owner) } catch {
                    throw PollcastError(.unavailable, "cannot read the polls: \(error)")
                }
                return try mutateLocked(owner: owner, body)
            }
            return try mutateLocked(owner: owner, body)
        }
    }

    /// `mutate`'s work, under the control lock (and with a shared store, the room's lock).
    private func mutateLocked<T>(
        owner: String,
        _ body: (inout RoomEdit) throws(PollcastError) -> (T, roomChanged: Bool)
    ) throws(PollcastError) -> T {
        var edit = copy(owner)
        let before = edit
        let (result, roomChanged) = try body(&edit)
        putBack(owner, edit, before: before)
        if roomChanged { self.roomChanged(owner) }
        return result
    }

    /// One room's part of the directory (call under the control lock).
    private func copy(_ owner: String) -> RoomEdit {
        directory.withLock { d in
            let room = d.rooms[owner] ?? RoomState(presenter: owner)
            return RoomEdit(
                room: room,
                tallies: d.tallies.filter(keys: room.polls.keys),
                baselines: d.baselines.filter(keys: room.polls.keys),
                through: d.through.filter(keys: room.polls.keys)
            )
        }
    }

    /// Puts an edited room back (call under the control lock, after `copy`).
    private func putBack(_ owner: String, _ edit: RoomEdit, before: RoomEdit) {
        directory.withLock { d in
            d.rooms[owner] = edit.room
            for id in before.room.polls.keys where edit.room.polls[id] == nil {
                d.owners[id] = nil
                d.tallies[id] = nil
                d.baselines[id] = nil
                d.through[id] = nil
            }
            for id in edit.room.polls.keys {
                d.owners[id] = owner
                d.tallies[id] = edit.tallies[id]
                d.baselines[id] = edit.baselines[id]
                let replaced = edit.tallies[id] !== before.tallies[id]
                let set = edit.through[id] != before.through[id]
                d.through[id] = replaced && !set ? 0 : edit.through[id]
            }
        }
    }

    // MARK: Following a shared store (the follower thread, once a tick)

    /// Applies what the nodes committed (this one included): rooms reloaded, tallies
    /// brought up to the store's newest answers. Returns the changes that could not be
    /// read, to be tried again next tick.
    public func follow(_ changes: Set<StoreChange>) -> Set<StoreChange> {
        guard shared != nil else { return [] }
        var failed: Set<StoreChange> = []
        var owners: Set<String> = []
        var results: Set<String> = []
        var moderation: Set<String> = []
        for change in changes {
            switch change {
            case .room(let owner): owners.insert(owner)
            case .results(let poll): results.insert(poll)
            case .moderation(let poll): moderation.insert(poll)
            case .everything:
                do {
                    owners.formUnion(try store.usernames())
                    owners.formUnion(directory.withLock { Array($0.rooms.keys) })
                    results.formUnion(directory.withLock { Array($0.tallies.keys) })
                    // Hidden responses are not in the answers' change numbers: read again.
                    moderation.formUnion(
                        directory.withLock { d in
                            d.tallies.keys.filter { id in
                                d.owners[id].flatMap { d.rooms[$0]?.polls[id]?.type } == .open
                            }
                        }
                    )
                } catch {
                    failed.insert(.everything)
                }
            case .accounts, .keywords: break
            }
        }
        for owner in owners {
            do {
                try controlLock.withLock { (controls: inout Int) throws(StoreError) in
                    controls += 1
                    try syncRoom(owner)
                }
            } catch { failed.insert(.room(owner)) }
        }
        for id in moderation {
            do { try reloadTally(id) } catch { failed.insert(.moderation(id)) }
        }
        for id in results {
            do { try refreshResults(id) } catch { failed.insert(.results(id)) }
        }
        return failed
    }

    /// Makes one room what the store says (call under the control lock): polls added,
    /// changed or deleted elsewhere; a new round or a reshaped poll gets a new tally read
    /// from the store. Tells the service loop when the room's active poll changed.
    private func syncRoom(_ owner: String) throws(StoreError) {
        let stored = try store.polls(owner: owner)
        let before = copy(owner)
        var edit = before
        var room = RoomState(presenter: owner)
        for poll in stored { room.upsert(poll) }
        for poll in stored {
            let old = before.room.polls[poll.id]
            let keep =
                old != nil && old?.type == poll.type && old?.options.count == poll.options.count
                && before.tallies[poll.id]?.round == poll.state.round
            if !keep {
                let (tally, through) = try followedTally(of: poll, round: poll.state.round)
                edit.tallies[poll.id] = tally
                edit.through[poll.id] = through
            }
            if poll.type == .choice, poll.state.round > 1 {
                if !keep || edit.baselines[poll.id] == nil {
                    edit.baselines[poll.id] = Self.roundCounts(try tally(of: poll, round: 1).snapshot())
                }
            } else {
                edit.baselines[poll.id] = nil
            }
        }
        edit.room = room
        putBack(owner, edit, before: before)
        if before.room.activePoll != room.activePoll { self.roomChanged(owner) }
    }

    /// Reads a poll's current round again from the store (its hidden responses changed).
    private func reloadTally(_ id: String) throws(StoreError) {
        try controlLock.withLock { (controls: inout Int) throws(StoreError) in
            controls += 1
            guard let poll = directory.withLock({ d in d.owners[id].flatMap { d.rooms[$0]?.polls[id] } }) else {
                return
            }
            let (tally, through) = try followedTally(of: poll, round: poll.state.round)
            directory.withLock { d in
                d.tallies[id] = tally
                d.through[id] = through
            }
        }
    }

    /// Brings a poll's tally up to the newest answers in the store (another node's, or
    /// this one's), reading only the rows changed since it last did.
    private func refreshResults(_ id: String) throws(StoreError) {
        guard let shared else { return }
        let found = directory.withLock { d -> (Poll, AnswerTally, Int)? in
            guard let owner = d.owners[id], let poll = d.rooms[owner]?.polls[id], let tally = d.tallies[id] else {
                return nil
            }
            return (poll, tally, d.through[id] ?? 0)
        }
        guard let (poll, tally, through) = found else { return }
        let changes = try shared.answerChanges(poll: id, round: tally.round, after: through)
        restore(changes.answers, into: tally, of: poll)
        directory.withLock { d in
            if d.tallies[id] === tally { d.through[id] = max(d.through[id] ?? 0, changes.through) }
        }
    }

    private func persist(_ polls: [Poll], requiringNoAnswers: Set<String> = []) throws(PollcastError) {
        do { try store.savePolls(polls, requiringNoAnswers: requiringNoAnswers) } catch {
            if error.code == StoreError.hasAnswersCode {
                throw PollcastError(
                    .conflict,
                    "this poll has answers (in this or an earlier round), so its type and number of options "
                        + "can no longer change; create a new poll instead"
                )
            }
            throw PollcastError(.unavailable, "cannot save the poll: \(error)")
        }
    }
}

/// `GET /api/polls/{id}/responses`: the names behind an identified poll's answers.
public struct Respondents: Encodable {
    public struct Response: Encodable {
        public var name: String
        /// As in the CSV: letters for choices, the text, or the words.
        public var answer: String
        /// Option indexes, for choice polls.
        public var choices: [Int]?
        /// Seconds since 1970 of the latest change.
        public var time: Double
    }
    public var poll: String
    public var round: Int
    public var identified: Bool
    public var responses: [Response]
}

/// The store's 32-byte respondent secret as two 128-bit SipHash keys: 128 bits of keyed
/// hash per respondent, so two participants of one poll never share one.
public struct RespondentKey: Sendable {
    public let first: (UInt64, UInt64)
    public let second: (UInt64, UInt64)

    public init(_ bytes: [UInt8]) {
        func word(_ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[(at + $1) % max(bytes.count, 1)]) << (8 * UInt64($1)) }
        }
        first = (word(0), word(8))
        second = (word(16), word(24))
    }
}

extension Dictionary {
    /// The entries under `keys` (those present), in O(keys) instead of a scan of all.
    fileprivate func filter(keys: some Sequence<Key>) -> [Key: Value] {
        var picked: [Key: Value] = [:]
        for key in keys { picked[key] = self[key] }
        return picked
    }
}
