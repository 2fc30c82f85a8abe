import Dispatch
import Foundation
import PollcastApp
import PollcastCore
import PollcastStore
import XCTest

final class PollStoreTests: XCTestCase {
    private func freshStore() throws -> PollStore {
        let directory = NSTemporaryDirectory() + "pollcast-store-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        return try PollStore(directory: directory)
    }

    /// A fresh store holding presenter "alice" and her choice poll "p".
    private func storeWithPoll() throws -> PollStore {
        let store = try freshStore()
        try store.insertAccount(account("alice"))
        let poll = Poll(
            id: "p",
            owner: "alice",
            type: .choice,
            title: "Q",
            options: ["a", "b"],
            settings: PollSettings(),
            createdAt: 0
        )
        try store.savePolls([poll])
        return store
    }

    private func account(_ name: String) -> AccountRecord {
        AccountRecord(username: name, passwordHash: [1, 2, 3], salt: [4, 5], iterations: 1, createdAt: 0)
    }

    func testPollsRoundTripWithState() throws {
        let store = try freshStore()
        try store.insertAccount(account("alice"))
        var settings = PollSettings()
        settings.maxChoices = 2
        settings.correct = [0]
        settings.chart = .donut
        var poll = Poll(
            id: "p1",
            owner: "alice",
            type: .choice,
            title: "Q, \"quoted\"",
            options: ["a", "b", "c"],
            settings: settings,
            createdAt: 12.5
        )
        poll.state.active = true
        poll.state.hidden = true
        poll.state.round = 3
        try store.savePolls([poll])
        XCTAssertEqual(try store.allPolls(), [poll])
        poll.state.locked = true
        poll.title = "Edited"
        try store.savePolls([poll])
        XCTAssertEqual(try store.allPolls(), [poll])
        try store.deletePoll(id: "p1")
        XCTAssertEqual(try store.allPolls(), [])
    }

    func testAnswersKeepTheHighestRevisionWhateverTheOrder() throws {
        let store = try storeWithPoll()
        func answer(_ text: String, _ revision: Int, round: Int = 1) -> StoredAnswer {
            StoredAnswer(
                poll: "p",
                round: round,
                participant: "x",
                name: nil,
                answer: text,
                revision: revision,
                time: 1
            )
        }
        try store.commitAnswers([answer("1", 2), answer("0", 1)])
        XCTAssertEqual(
            try store.answers(poll: "p", round: 1).map(\.answer),
            ["1"],
            "an older write arriving late loses"
        )
        try store.commitAnswers([answer("0", 3), answer("1", 1, round: 2)])
        XCTAssertEqual(try store.answers(poll: "p", round: 1).map(\.answer), ["0"])
        XCTAssertEqual(try store.answers(poll: "p", round: 2).map(\.answer), ["1"], "rounds are kept apart")
    }

    func testSessionsAndOneTimeLinks() throws {
        let store = try freshStore()
        try store.insertAccount(account("bob"))
        XCTAssertThrowsError(try store.insertAccount(account("bob")), "usernames are unique")
        let session = SessionRecord(tokenHash: [9, 9], username: "bob", csrfToken: "c", expiresAt: 100)
        try store.insertSession(session)
        XCTAssertEqual(try store.session(tokenHash: [9, 9]), session)
        try store.deleteSession(tokenHash: [9, 9])
        XCTAssertNil(try store.session(tokenHash: [9, 9]))

        try store.insertLoginLink(tokenHash: [1], username: "bob", expiresAt: 50)
        try store.insertLoginLink(tokenHash: [2], username: "bob", expiresAt: 50)
        XCTAssertEqual(try store.consumeLoginLink(tokenHash: [1], now: 10), "bob")
        XCTAssertNil(try store.consumeLoginLink(tokenHash: [1], now: 10), "used once")
        XCTAssertNil(try store.consumeLoginLink(tokenHash: [2], now: 60), "expired")

        try store.insertSession(session)
        var changed = account("bob")
        changed.passwordHash = [7]
        XCTAssertTrue(try store.updatePassword(changed))
        XCTAssertNil(try store.session(tokenHash: [9, 9]), "a new password ends every session")
        XCTAssertEqual(try store.account("bob")?.passwordHash, [7])
        XCTAssertFalse(try store.updatePassword(account("nobody")))
    }

    /// Many threads submit at once: every answer is committed exactly once, each ticket
    /// comes back once, and batching turns thousands of answers into far fewer commits.
    func testWriterGroupCommitsConcurrentSubmissions() throws {
        let store = try storeWithPoll()
        let returned = Locked<[Int]>([])
        let writer = AnswerWriter<Int>(store: store) { tickets, result in
            if case .failure(let error) = result { XCTFail("\(error)") }
            returned.withLock { $0 += tickets }
        }
        writer.start()
        let threads = 8
        let perThread = 500
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                let n = t * perThread + i
                writer.submit(
                    StoredAnswer(
                        poll: "p",
                        round: 1,
                        participant: "p\(n)",
                        name: nil,
                        answer: "\(n % 2)",
                        revision: 1,
                        time: 0
                    ),
                    ticket: n
                )
            }
        }
        writer.stop()
        XCTAssertEqual(returned.withLock { $0.sorted() }, Array(0..<threads * perThread))
        XCTAssertEqual(try store.answers(poll: "p", round: 1).count, threads * perThread)
        let stats = writer.stats
        XCTAssertEqual(stats.answers, threads * perThread)
        XCTAssertLessThan(stats.commits, threads * perThread / 4, "answers that arrive together share a commit")
    }
}
