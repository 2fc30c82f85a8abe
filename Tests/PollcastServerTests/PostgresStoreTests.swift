import Dispatch
import Foundation
import PollcastApp
import PollcastCore
import PollcastPostgres
import XCTest

/// The PostgreSQL store against a real PostgreSQL server (started in a temporary folder
/// by scripts/postgres-temp.sh, which the test command's install step provides), with
/// two store instances standing for two nodes writing at once.
final class PostgresStoreTests: XCTestCase {
    private static func poll(_ id: String, allowChange: Bool = true, locked: Bool = false) -> Poll {
        var settings = PollSettings()
        settings.allowChange = allowChange
        var poll = Poll(
            id: id,
            owner: "alice",
            type: .choice,
            title: "Which antibiotic interacts with warfarin? 💊",
            options: ["Clarithromycin", "Amoxicillin", "Doxycycline", "Nitrofurantoin"],
            settings: settings,
            createdAt: 0
        )
        poll.state.active = true
        poll.state.locked = locked
        return poll
    }

    private static func answer(_ poll: String, _ who: String, _ choice: Int, allowChange: Bool = true) -> StoredAnswer {
        StoredAnswer(
            poll: poll,
            round: 1,
            participant: who,
            name: nil,
            answer: "\(choice)",
            revision: 0,
            time: Date().timeIntervalSince1970,
            allowChange: allowChange
        )
    }

    private func nodes() throws -> (PostgresStore, PostgresStore) {
        let url = try TestPostgres.database()
        let a = try PostgresStore(url: url)
        let b = try PostgresStore(url: url)
        try a.insertAccount(
            AccountRecord(username: "alice", passwordHash: [1], salt: [2], iterations: 1, createdAt: 0)
        )
        return (a, b)
    }

    /// Two nodes, four threads each, batches of answers (and changes) for the same 150
    /// participants: every participant is one row, its revision counts its stored
    /// changes, and the per-option counts equal a count of the rows.
    func testTwoNodesWritingAtOnceCountEveryoneOnce() throws {
        let (a, b) = try nodes()
        try a.savePolls([Self.poll("p")])
        let verdicts = Locked<[String: [AnswerVerdict]]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let store = worker % 2 == 0 ? a : b
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<15 {
                let batch = (0..<20).map { _ in
                    Self.answer(
                        "p",
                        "participant-\(Int.random(in: 0..<150, using: &rng))",
                        Int.random(in: 0..<4, using: &rng)
                    )
                }
                do {
                    let result = try store.commitAnswers(batch)
                    XCTAssertEqual(result.count, batch.count)
                    verdicts.withLock { v in
                        for (answer, verdict) in zip(batch, result) {
                            v[answer.participant, default: []].append(verdict)
                        }
                    }
                } catch {
                    XCTFail("\(error)")
                }
            }
        }
        let rows = try a.answers(poll: "p", round: 1)
        let all = verdicts.withLock { $0 }
        XCTAssertEqual(rows.count, all.count, "one row per participant")
        for row in rows {
            let stored = all[row.participant, default: []].filter {
                if case .stored = $0 { return true } else { return false }
            }
            XCTAssertEqual(row.revision, stored.count, "revision of \(row.participant)")
            let firsts = stored.filter {
                if case .stored(1, true, _) = $0 { return true } else { return false }
            }
            XCTAssertEqual(firsts.count, 1, "exactly one first answer for \(row.participant)")
        }
        var counted: [Int: Int] = [-1: rows.count]
        for row in rows { counted[Int(row.answer) ?? -9, default: 0] += 1 }
        XCTAssertEqual(
            try a.optionCounts(poll: "p", round: 1).filter { $0.value != 0 },
            counted.filter { $0.value != 0 }
        )
        // Read in change order, everything once: through is the last change number.
        let changes = try b.answerChanges(poll: "p", round: 1, after: 0)
        XCTAssertEqual(Set(changes.answers.map(\.participant)).count, rows.count)
        XCTAssertEqual(try b.answerChanges(poll: "p", round: 1, after: changes.through).answers.count, 0)
    }

    /// Without allowChange, two nodes racing for one participant: one answer is stored,
    /// the other is refused (or, if it is the same answer, acked as unchanged).
    func testOneAnswerPerParticipantAcrossNodes() throws {
        let (a, b) = try nodes()
        try a.savePolls([Self.poll("q", allowChange: false)])
        for i in 0..<40 {
            let results = Locked<[AnswerVerdict]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                let store = side == 0 ? a : b
                do {
                    let verdict = try store.commitAnswers([Self.answer("q", "racer-\(i)", side, allowChange: false)])
                    results.withLock { $0 += verdict }
                } catch {
                    XCTFail("\(error)")
                }
            }
            let got = results.withLock { $0 }
            let stored = got.filter { if case .stored(1, true, _) = $0 { return true } else { return false } }
            XCTAssertEqual(stored.count, 1, "\(got)")
            XCTAssertEqual(
                got.filter { $0 == .refused(PollcastError(.alreadyAnswered, "you already answered this poll")) }.count,
                1,
                "\(got)"
            )
        }
        XCTAssertEqual(try a.optionCounts(poll: "q", round: 1)[-1], 40)
    }

    /// The poll's state as PostgreSQL has it decides: locked, inactive and a moved-on
    /// round are refused, whatever the node believed.
    func testTheDatabasesStateOfThePollDecides() throws {
        let (a, b) = try nodes()
        try a.savePolls([Self.poll("r", locked: true)])
        XCTAssertEqual(
            try b.commitAnswers([Self.answer("r", "x", 0)]).first,
            .refused(PollcastError(.locked, "responses to this poll are closed"))
        )
        var moved = Self.poll("r")
        moved.state.round = 2
        try a.savePolls([moved])
        guard case .refused(let error)? = try b.commitAnswers([Self.answer("r", "x", 0)]).first else {
            return XCTFail("an answer to round 1 after round 2 began")
        }
        XCTAssertEqual(error.code, .notActive)
        moved.state.active = false
        try a.savePolls([moved])
        var late = Self.answer("r", "x", 0)
        late.round = 2
        guard case .refused(let inactive)? = try b.commitAnswers([late]).first else { return XCTFail("inactive") }
        XCTAssertEqual(inactive.code, .notActive)
        XCTAssertFalse(try a.hasAnswers(poll: "r"))
    }

    /// A node judged the answer against its copy of the poll; another node changed the
    /// poll since: the row PostgreSQL holds decides (shape, type, allowChange, names).
    func testTheStoredPollNotTheNodesCopyJudgesTheAnswer() throws {
        let (a, b) = try nodes()
        var edited = Self.poll("e")
        try a.savePolls([edited])
        // Node B still believes four options and changes allowed; A made it two options,
        // no changes, and identified.
        edited.options = ["Yes", "No"]
        edited.settings.allowChange = false
        try a.savePolls([edited])
        let outOfRange = try b.commitAnswers([Self.answer("e", "p1", 3)])
        guard case .refused(let shape)? = outOfRange.first else { return XCTFail("\(outOfRange)") }
        XCTAssertEqual(shape.code, .notActive)
        var wrongType = Self.answer("e", "p1", 1)
        wrongType.pollType = .open
        guard case .refused(let type)? = try b.commitAnswers([wrongType]).first else { return XCTFail("type") }
        XCTAssertEqual(type.code, .notActive)
        guard case .stored(1, true, _)? = try b.commitAnswers([Self.answer("e", "p1", 1)]).first else {
            return XCTFail("the answer that fits the poll as it is now")
        }
        // B's copy says changes are allowed; the row says no.
        let change = try b.commitAnswers([Self.answer("e", "p1", 0, allowChange: true)])
        guard case .refused(let again)? = change.first else { return XCTFail("\(change)") }
        XCTAssertEqual(again.code, .alreadyAnswered)
        edited.settings.identified = true
        try a.savePolls([edited])
        guard case .refused(let nameless)? = try b.commitAnswers([Self.answer("e", "p2", 0)]).first else {
            return XCTFail("an identified poll took an answer without a name")
        }
        XCTAssertEqual(nameless.code, .badRequest)
        // Nothing refused was stored or counted.
        XCTAssertEqual(try a.answers(poll: "e", round: 1).map(\.participant), ["p1"])
        XCTAssertEqual(try a.optionCounts(poll: "e", round: 1).filter { $0.value != 0 }, [-1: 1, 1: 1])
    }

    /// What one node changes, the other hears.
    func testChangesAreHeardByTheOtherNode() throws {
        let (a, b) = try nodes()
        let heard = Locked<Set<StoreChange>>([])
        b.listen { change in heard.withLock { _ = $0.insert(change) } }
        defer { b.close() }
        let deadline = Date().addingTimeInterval(10)
        while heard.withLock({ !$0.contains(.everything) }), Date() < deadline { usleep(20_000) }
        try a.savePolls([Self.poll("s")])
        try a.setModerated(poll: "s", round: 1, text: "rude", hidden: true)
        try a.announce([.results("s")])
        try a.insertSession(SessionRecord(tokenHash: [9, 9], username: "alice", csrfToken: "c", expiresAt: 1e12))
        let expected: Set<StoreChange> = [.everything, .room("alice"), .moderation("s"), .results("s"), .accounts]
        while heard.withLock({ !expected.isSubset(of: $0) }), Date() < deadline { usleep(20_000) }
        XCTAssertTrue(expected.isSubset(of: heard.withLock { $0 }), "\(heard.withLock { $0 })")
        XCTAssertEqual(try b.session(tokenHash: [9, 9])?.username, "alice")
    }
}
