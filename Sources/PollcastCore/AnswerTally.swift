import Synchronization

/// The live results of one round of one poll, updated by any number of ingest threads.
///
/// Counting never reads a count and writes it back: each option has its own `Atomic`
/// and every change is a `wrappingAdd`, so concurrent answers cannot lose an update.
/// Who answered what lives in `shardCount` mutex-guarded maps keyed by participant;
/// a participant's decision (new, same, change, refused) and its counter moves happen
/// under that participant's shard lock, so one participant's answers apply in order
/// and counts never dip below zero, while different participants rarely contend.
public final class AnswerTally: Sendable {
    public let pollID: String
    public let round: Int
    public let type: PollType
    public let optionCount: Int

    /// What one participant has answered in this round.
    public struct Entry: Sendable, Equatable {
        public var answer: Answer
        /// Grows with each accepted change; the store keeps the highest, so writes that
        /// reach it out of order cannot leave an older answer in place.
        public var revision: Int
        /// When the change was accepted (clock stamp): orders open responses.
        public var stamp: UInt64
        public var name: String?

        public init(answer: Answer, revision: Int, stamp: UInt64, name: String?) {
            self.answer = answer
            self.revision = revision
            self.stamp = stamp
            self.name = name
        }
    }

    /// What `submit` decided.
    public enum Outcome: Sendable, Equatable {
        /// The answer was taken (first answer or a change); make it durable, then ack.
        case accepted(Entry, previous: Entry?)
        /// The same answer again (a retry): ack again, nothing changes.
        case duplicate(Entry)
    }

    static let shardCount = 16
    private let shards: InlineArray<16, Locked<[String: Entry]>>
    private let counts: InlineArray<26, Atomic<Int>>
    /// Word counts for word clouds (a dictionary cannot be lock-free; only word clouds pay for it).
    private let wordCounts: Locked<[String: Int]>
    private let respondents = Atomic<Int>(0)
    /// Open polls: response texts the presenter hid from the screen. Guarded by itself.
    private let moderated = Locked<Set<String>>([])
    private let lastChange: Atomic<UInt64>
    private let clock: ChangeClock
    /// Set while the poll is reshaped: answers are refused (see `retire`).
    private let retired = Atomic<Bool>(false)

    public init(pollID: String, round: Int, type: PollType, optionCount: Int, clock: ChangeClock) {
        self.pollID = pollID
        self.round = round
        self.type = type
        // A stored poll can never have more (validation refuses it); if one did, its
        // extra options go uncounted rather than crash the server on start.
        self.optionCount = min(max(optionCount, 0), 26)
        self.clock = clock
        shards = InlineArray { _ in Locked([:]) }
        counts = InlineArray { _ in Atomic(0) }
        wordCounts = Locked([:])
        lastChange = Atomic(clock.next())
    }

    /// The tally of round `round` of `poll`, shaped as the poll is now.
    public convenience init(of poll: Poll, round: Int, clock: ChangeClock) {
        self.init(
            pollID: poll.id,
            round: round,
            type: poll.type,
            optionCount: poll.type == .choice ? poll.options.count : 0,
            clock: clock
        )
    }

    /// Stops taking answers (the poll is being reshaped and this tally replaced), and
    /// returns once no answer is half-way through `submit`: every shard lock is taken
    /// once after the flag is set, so an answer either counted before (and shows in
    /// `total`) or sees the flag and is refused.
    public func retire() {
        retired.store(true, ordering: .sequentiallyConsistent)
        for i in 0..<Self.shardCount { shards[i].withLock { _ in } }
    }

    /// Takes answers again (the reshape was refused).
    public func unretire() {
        retired.store(false, ordering: .sequentiallyConsistent)
    }

    /// The clock stamp of the latest change: a broadcaster resends when it moves.
    public var version: UInt64 { lastChange.load(ordering: .acquiring) }

    public var total: Int { respondents.load(ordering: .relaxed) }

    /// Applies `answer` from `participant`. `allowChange` false refuses a different second answer.
    /// `whileLocked` runs under the participant's shard lock after an accepted change, so work
    /// that must follow the participant's order (queueing the durable write) keeps it.
    public func submit(
        participant: String,
        answer: Answer,
        name: String? = nil,
        allowChange: Bool,
        whileLocked: (Entry, Entry?) -> Void = { _, _ in }
    ) throws(PollcastError) -> Outcome {
        try shards[shardIndex(of: participant)].withLock { (book) throws(PollcastError) -> Outcome in
            guard !retired.load(ordering: .sequentiallyConsistent) else {
                throw PollcastError(.notActive, "the question just changed; please answer again")
            }
            let previous = book[participant]
            if let previous {
                if previous.answer == answer { return .duplicate(previous) }
                if !allowChange { throw PollcastError(.alreadyAnswered, "you have already answered this poll") }
            }
            let entry = Entry(
                answer: answer,
                revision: (previous?.revision ?? 0) + 1,
                stamp: clock.next(),
                name: name
            )
            book[participant] = entry
            move(from: previous?.answer, to: answer)
            whileLocked(entry, previous)
            lastChange.store(entry.stamp, ordering: .releasing)
            return .accepted(entry, previous: previous)
        }
    }

    /// Undoes an accepted change that could not be made durable, unless a later change
    /// of the same participant has replaced it already.
    public func revert(participant: String, entry: Entry, previous: Entry?) {
        shards[shardIndex(of: participant)].withLock { book in
            guard book[participant]?.revision == entry.revision else { return }
            book[participant] = previous
            move(from: entry.answer, to: previous?.answer)
            lastChange.store(clock.next(), ordering: .releasing)
        }
    }

    /// Loads an answer read back from the store (start-up), without a new revision.
    /// An answer that does not fit this tally (an option it does not have) is left out.
    /// Returns whether it changed anything: an entry no newer than the one held is
    /// ignored, and then the version does not move (no frame is sent for it).
    @discardableResult
    public func restore(participant: String, entry: Entry) -> Bool {
        if case .choices(let c) = entry.answer, !c.allSatisfy({ (0..<optionCount).contains($0) }) { return false }
        let changed = shards[shardIndex(of: participant)].withLock { book in
            let previous = book[participant]
            guard (previous?.revision ?? 0) < entry.revision else { return false }
            book[participant] = entry
            move(from: previous?.answer, to: entry.answer)
            return true
        }
        if changed { lastChange.store(clock.next(), ordering: .releasing) }
        return changed
    }

    /// Hides (or shows again) every response of an open poll whose text is `text`.
    /// Answers stay counted and exported; only what the room sees changes.
    public func setModerated(_ text: String, hidden: Bool) {
        moderated.withLock { set in
            if hidden { set.insert(text) } else { set.remove(text) }
        }
        lastChange.store(clock.next(), ordering: .releasing)
    }

    /// The participant's current answer in this round.
    public func entry(of participant: String) -> Entry? {
        shards[shardIndex(of: participant)].withLock { $0[participant] }
    }

    /// An immutable copy of the results. The version is read first, so a change that
    /// races with the copy leaves a newer version behind and is sent on the next tick.
    public func snapshot() -> ResultsSnapshot {
        let version = self.version
        let content: ResultsSnapshot.Content
        switch type {
        case .choice:
            content = .counts((0..<optionCount).map { counts[$0].load(ordering: .relaxed) })
        case .wordcloud:
            // One pass keeping the best 50, not a sort of every word: stuffed with millions of
            // distinct words, a tick must still cost O(words), and no copy is made.
            let top = wordCounts.withLock { Self.top(ResultsSnapshot.topWords, of: $0) }
            content = .words(top.map { ResultsSnapshot.WordCount(word: $0.key, count: $0.value) })
        case .open:
            // The newest visible responses only: each shard gives its newest 100 that are
            // not hidden, in one pass (no copy of every response, no sort of all of them),
            // so a tick costs O(responses) however many were stuffed in.
            let hidden = moderated.withLock { $0 }
            let isVisible = { (entry: Entry) -> Bool in
                guard case .text(let t) = entry.answer else { return false }
                return !hidden.contains(t)
            }
            var all: [Entry] = []
            for i in 0..<Self.shardCount {
                all.append(
                    contentsOf: shards[i].withLock {
                        Self.newest(ResultsSnapshot.newestResponses, of: $0.values.lazy.filter(isVisible))
                    }
                )
            }
            all.sort { $0.stamp > $1.stamp }
            var visible: [String] = []
            for entry in all where visible.count < ResultsSnapshot.newestResponses {
                guard case .text(let t) = entry.answer, !hidden.contains(t) else { continue }
                visible.append(t)
            }
            return ResultsSnapshot(
                pollID: pollID,
                round: round,
                seq: version,
                total: total,
                content: .responses(ResultsSnapshot.fitting(visible, within: ResultsSnapshot.responsesBudget)),
                moderated: ResultsSnapshot.fitting(hidden.sorted(), within: ResultsSnapshot.moderatedBudget)
            )
        }
        return ResultsSnapshot(pollID: pollID, round: round, seq: version, total: total, content: content)
    }

    /// The `k` entries with the highest stamps, newest first, in one pass with a sorted
    /// buffer of `k`.
    static func newest(_ k: Int, of entries: some Sequence<Entry>) -> [Entry] {
        var best: [Entry] = []
        best.reserveCapacity(k + 1)
        for entry in entries {
            if best.count == k, let last = best.last, entry.stamp <= last.stamp { continue }
            let at = best.firstIndex { entry.stamp > $0.stamp } ?? best.count
            best.insert(entry, at: at)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    /// The `k` most frequent words, ties broken alphabetically: what a full sort's prefix
    /// would give, in one pass with a sorted buffer of `k`.
    public static func top(_ k: Int, of counts: [String: Int]) -> [(key: String, value: Int)] {
        func before(_ a: (key: String, value: Int), _ b: (key: String, value: Int)) -> Bool {
            a.value != b.value ? a.value > b.value : a.key < b.key
        }
        var best: [(key: String, value: Int)] = []
        best.reserveCapacity(k + 1)
        for entry in counts {
            if best.count == k, let last = best.last, !before((entry.key, entry.value), last) { continue }
            let at = best.firstIndex { before((entry.key, entry.value), $0) } ?? best.count
            best.insert((entry.key, entry.value), at: at)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    private func shardIndex(of participant: String) -> Int {
        var hasher = Hasher()
        hasher.combine(participant)
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))
    }

    /// Moves counts from one answer to another. Called under the participant's shard lock.
    private func move(from old: Answer?, to new: Answer?) {
        if old == nil, new != nil { respondents.wrappingAdd(1, ordering: .relaxed) }
        if old != nil, new == nil { respondents.wrappingSubtract(1, ordering: .relaxed) }
        if case .choices(let o)? = old { for i in o { counts[i].wrappingSubtract(1, ordering: .relaxed) } }
        if case .choices(let n)? = new { for i in n { counts[i].wrappingAdd(1, ordering: .relaxed) } }
        if case .words(let o)? = old {
            wordCounts.withLock {
                for w in o {
                    $0[w, default: 1] -= 1
                    if $0[w] == 0 { $0[w] = nil }
                }
            }
        }
        if case .words(let n)? = new {
            wordCounts.withLock { for w in n { $0[w, default: 0] += 1 } }
        }
    }
}
