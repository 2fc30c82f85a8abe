import Dispatch
import Foundation
import PollcastApp
import PollcastCore
import PollcastPostgres
import XCTest

@testable import PollcastServer

/// Two nodes in one process on one real PostgreSQL database: the follower, the shared
/// answer path and the room reloads run on their own threads against each other, so the
/// ThreadSanitizer run of the suite covers them (Tests/cluster runs the same as separate
/// processes behind nginx).
final class ClusterTests: XCTestCase {
    private func withNodes(url given: String? = nil, _ body: (TestServer, TestServer) throws -> Void) throws {
        let url = try given ?? TestPostgres.database()
        let shared: (inout ServerConfig) -> Void = { $0.database = url }
        let a = try TestServer(configure: shared)
        defer { a.shutdown() }
        let b = try TestServer(configure: shared)
        defer { b.shutdown() }
        try body(a, b)
    }

    /// Participants on both nodes answer at once, many changing their answer on the other
    /// node: every screen on either node ends at the same counts, one per participant.
    func testABurstOnBothNodesIsCountedOnceEverywhere() throws {
        try withNodes { a, b in
            let token = try a.presenter("nadia")
            let poll = try a.createPoll(
                token,
                [
                    "type": "choice",
                    "title": "Which of these is a prime number? 🔢\nThink before you tap.",
                    "options": ["51", "57", "59", "91"],
                ]
            )
            try a.control(token, poll, "activate")
            XCTAssertTrue(try serves(b, "nadia", poll), "node B serves the poll")
            let screens = try [a, b].map { node in
                let screen = try TestWebSocket(port: node.port, path: "/ws/nadia?role=screen")
                _ = try screen.next { $0.type == "state" }
                return screen
            }
            let people = 60
            let acked = Locked(0)
            DispatchQueue.concurrentPerform(iterations: 6) { worker in
                for i in stride(from: worker, to: people, by: 6) {
                    do {
                        let id = newParticipantID()
                        let first = try TestParticipant(port: (i % 2 == 0 ? a : b).port, room: "nadia", id: id)
                        XCTAssertEqual(try first.choose(poll, [i % 4]).type, "ack")
                        // Every third changes their mind on the other node.
                        if i % 3 == 0 {
                            let again = try TestParticipant(port: (i % 2 == 0 ? b : a).port, room: "nadia", id: id)
                            XCTAssertEqual(try again.choose(poll, [2]).type, "ack")
                        }
                        acked.withLock { $0 += 1 }
                    } catch {
                        XCTFail("participant \(i): \(error)")
                    }
                }
            }
            XCTAssertEqual(acked.withLock { $0 }, people)
            var expected = [0, 0, 0, 0]
            for i in 0..<people { expected[i % 3 == 0 ? 2 : i % 4] += 1 }
            for screen in screens {
                let last = try screen.next(timeout: 10) { $0.type == "results" && $0.counts == expected }
                XCTAssertEqual(last["total"] as? Int, people)
            }
            for node in [a, b] {
                let results = try TestHTTP.json(port: node.port, "GET", "/api/polls/\(poll)/results", token: token)
                XCTAssertEqual(results.json["counts"] as? [Int], expected)
            }
        }
    }

    /// Hide, clear and lock made on one node hold on the other.
    func testControlsOnOneNodeHoldOnTheOther() throws {
        try withNodes { a, b in
            let token = try a.presenter("omar")
            let poll = try b.createPoll(
                token,
                ["type": "choice", "title": "Best time for office hours? ☕", "options": ["Mon 9:00", "Wed 14:00"]]
            )
            try a.control(token, poll, "activate")
            let screen = try TestWebSocket(port: b.port, path: "/ws/omar?role=screen")
            _ = try screen.next(timeout: 10) { $0.type == "state" && ($0["poll"] as? [String: Any]) != nil }
            let voter = try TestParticipant(port: b.port, room: "omar")
            XCTAssertEqual(try voter.choose(poll, [1]).type, "ack")
            _ = try screen.next { $0.type == "results" && $0.counts == [0, 1] }

            try a.control(token, poll, "hide")
            _ = try screen.next { $0.type == "state" && ($0["poll"] as? [String: Any])?["hidden"] as? Bool == true }
            let other = try TestParticipant(port: a.port, room: "omar")
            XCTAssertEqual(try other.choose(poll, [0]).type, "ack")
            let hidden = try screen.next { $0.type == "results" && $0["total"] as? Int == 2 }
            XCTAssertNil(hidden["counts"], "no count on node B's screen while hidden")

            try a.control(token, poll, "clear")
            let cleared = try screen.next {
                $0.type == "state" && ($0["poll"] as? [String: Any])?["round"] as? Int == 2
            }
            XCTAssertNotNil(cleared)
            try a.control(token, poll, "lock")
            XCTAssertTrue(
                try b.eventually {
                    try TestParticipant(port: b.port, room: "omar").choose(poll, [0]).errorCode == "locked"
                },
                "node B refuses answers once node A locked the poll"
            )
        }
    }

    /// A node that died between its commit and its announcement tells nobody: the other
    /// nodes still read the active poll's newest answers within about a second. And a
    /// clear right after takes round 1's counts from PostgreSQL, not from its own tally.
    func testAnswersNobodyAnnouncedStillArrive() throws {
        let url = try TestPostgres.database()
        let shared: (inout ServerConfig) -> Void = { $0.database = url }
        let a = try TestServer(configure: shared)
        defer { a.shutdown() }
        let token = try a.presenter("pia")
        let poll = try a.createPoll(
            token,
            [
                "type": "choice", "title": "Is 1 a prime number? 🤔", "options": ["Yes", "No"],
                "settings": ["correct": [1]],
            ]
        )
        try a.control(token, poll, "activate")
        let screen = try TestWebSocket(port: a.port, path: "/ws/pia?role=screen")
        _ = try screen.next { $0.type == "state" }
        // A second "node" that commits and dies before announcing anything.
        let silent = try PostgresStore(url: url)
        let rows = (0..<7).map { i in
            StoredAnswer(
                poll: poll,
                round: 1,
                participant: "silent-\(i)",
                name: nil,
                answer: i < 5 ? "1" : "0",
                revision: 0,
                time: Date().timeIntervalSince1970,
                pollType: .choice
            )
        }
        XCTAssertEqual(try silent.commitAnswers(rows).count, 7)
        try a.control(token, poll, "clear")
        let compare = try TestHTTP.json(
            port: a.port,
            "POST",
            "/api/polls/\(poll)/display",
            token: token,
            ["compareRounds": true]
        )
        XCTAssertEqual(compare.status, 200, compare.text)
        let framed = try screen.next(timeout: 10) { ($0["baseline"] as? [String: Any]) != nil }
        let baseline = framed["baseline"] as? [String: Any]
        XCTAssertEqual(baseline?["counts"] as? [Int], [2, 5], "round 1 as PostgreSQL has it")
        // Round 2: answers only the silent node commits, never announced.
        let later = rows.map { row -> StoredAnswer in
            var r = row
            r.round = 2
            r.answer = "1"
            return r
        }
        XCTAssertEqual(try silent.commitAnswers(later).count, 7)
        let seen = try screen.next(timeout: 5) {
            $0.type == "results" && $0["round"] as? Int == 2 && $0["total"] as? Int == 7
        }
        XCTAssertEqual(seen.counts, [0, 7])
    }

    /// Two consoles of one presenter click at the same instant on two nodes, each
    /// activating a different poll: the room's lock across nodes lets one go first, the
    /// other reads its result, and the room never ends with two active polls.
    func testSimultaneousControlsOnTwoNodesLeaveOneActivePoll() throws {
        let url = try TestPostgres.database()
        try withNodes(url: url) { a, b in
            let token = try a.presenter("quinn")
            let polls = try (0..<2).map { i in
                try a.createPoll(token, ["type": "choice", "title": "Room \(i)?", "options": ["Here", "Not here"]])
            }
            let store = try PostgresStore(url: url)
            for _ in 0..<15 {
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    do { try (i == 0 ? a : b).control(token, polls[i], "activate") } catch {
                        XCTFail("\(error)")
                    }
                }
                XCTAssertEqual(try store.polls(owner: "quinn").filter(\.state.active).count, 1)
            }
        }
    }

    /// An edit that reshapes a poll, racing its first answer on the other node: either the
    /// edit is refused (the poll has an answer) or the answer is (it no longer fits);
    /// never both accepted, never an acked answer left uncounted.
    func testAReshapeRacingTheFirstAnswerOnTheOtherNode() throws {
        try withNodes { a, b in
            let token = try a.presenter("rhea")
            var outcomes: [String: Int] = [:]
            for round in 0..<12 {
                let poll = try a.createPoll(
                    token,
                    ["type": "choice", "title": "Race \(round) 🏁", "options": ["a", "b", "c", "d"]]
                )
                try a.control(token, poll, "activate")
                XCTAssertTrue(try serves(b, "rhea", poll), "node B serves the poll")
                // Locked only to cross into the concurrent closure; one thread uses it.
                let voter = Locked(try TestParticipant(port: b.port, room: "rhea"))
                let edit = Locked(0)
                let reply = Locked<[String: Any]>([:])
                DispatchQueue.concurrentPerform(iterations: 2) { side in
                    do {
                        if side == 0 {
                            let r = try TestHTTP.json(
                                port: a.port,
                                "PATCH",
                                "/api/polls/\(poll)",
                                token: token,
                                ["options": ["x", "y"]]
                            )
                            edit.withLock { $0 = r.status }
                        } else {
                            // From at once to 30 ms late: the edit wins some races, the answer others.
                            usleep(UInt32(round % 4) * 10_000)
                            let r = try voter.withLock { try $0.choose(poll, [3]) }
                            reply.withLock { $0 = r }
                        }
                    } catch {
                        XCTFail("\(error)")
                    }
                }
                let status = edit.withLock { $0 }
                let acked = reply.withLock { $0.type } == "ack"
                outcomes["edit \(status), answer \(acked ? "acked" : "refused")", default: 0] += 1
                XCTAssertFalse(status == 200 && acked, "both the reshape and an answer to option D were accepted")
                XCTAssertTrue(status == 200 || status == 409, "edit: \(status)")
                // Whatever won, both nodes' results count every acked answer (node A within
                // a tick of hearing of it).
                for node in [a, b] {
                    XCTAssertTrue(
                        try node.eventually {
                            let results = try TestHTTP.json(
                                port: node.port,
                                "GET",
                                "/api/polls/\(poll)/results",
                                token: token
                            )
                            return results.json["total"] as? Int == (acked ? 1 : 0)
                        },
                        "every acked answer counted"
                    )
                }
            }
            print("reshape against a first answer on the other node: \(outcomes)")
        }
    }

    /// More open responses than a screen lists: every node lists the same newest ones, in
    /// the order PostgreSQL committed them (each node stamps a row with its change number).
    func testOpenResponsesAreListedAlikeOnEveryNode() throws {
        try withNodes { a, b in
            let token = try a.presenter("sami")
            let poll = try a.createPoll(token, ["type": "open", "title": "One word for today's lab? 🧪"])
            try a.control(token, poll, "activate")
            XCTAssertTrue(try serves(b, "sami", poll), "node B serves the poll")
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                for i in stride(from: worker, to: 140, by: 4) {
                    do {
                        let p = try TestParticipant(port: (i % 2 == 0 ? a : b).port, room: "sami")
                        XCTAssertEqual(try p.answer(poll, ["text": "réponse \(i) ✨"]).type, "ack")
                    } catch {
                        XCTFail("\(error)")
                    }
                }
            }
            func listed(_ node: TestServer) throws -> [String] {
                let results = try TestHTTP.json(port: node.port, "GET", "/api/polls/\(poll)/results", token: token)
                return (results.json["responses"] as? [Any] ?? []).map { "\($0)" }
            }
            XCTAssertTrue(
                try a.eventually { try listed(a) == listed(b) && results(a, poll, token) == 140 },
                "both nodes list the same newest responses"
            )
            XCTAssertFalse(try listed(a).isEmpty)
        }
    }

    private func results(_ node: TestServer, _ poll: String, _ token: String) throws -> Int? {
        try TestHTTP.json(port: node.port, "GET", "/api/polls/\(poll)/results", token: token).json["total"] as? Int
    }

    /// Whether `node` shows `poll` as its room's active poll (within a few seconds).
    private func serves(_ node: TestServer, _ room: String, _ poll: String) throws -> Bool {
        try node.eventually {
            let json = try TestHTTP.json(port: node.port, "GET", "/api/rooms/\(room)").json
            return (json["poll"] as? [String: Any])?["id"] as? String == poll
        }
    }
}
