import Foundation
import XCTest

/// The contract's whole flow over real sockets: create, activate, answer, live counts,
/// change, hide, show, lock, clear, earlier rounds, export.
final class ContractFlowTests: XCTestCase {
    func testLivePollFromCreationToExport() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(
                token,
                ["type": "choice", "title": "Which planet is largest?", "options": ["Mars", "Jupiter", "Venus"]]
            )
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            let first = try screen.next { $0.type == "state" }
            XCTAssertTrue(first["poll"] is NSNull, "nothing is active yet")

            try s.control(token, poll, "activate")
            let state = try screen.next { $0.type == "state" }
            XCTAssertEqual((state["poll"] as? [String: Any])?["id"] as? String, poll)

            // 30 participants answer: 12 Mars, 15 Jupiter, 3 Venus.
            var participants: [TestParticipant] = []
            for i in 0..<30 {
                let p = try TestParticipant(port: s.port, room: "alice")
                XCTAssertEqual((p.state["poll"] as? [String: Any])?["id"] as? String, poll)
                let reply = try p.choose(poll, [i < 12 ? 0 : i < 27 ? 1 : 2])
                XCTAssertEqual(reply.type, "ack", "\(reply)")
                XCTAssertEqual(reply["round"] as? Int, 1)
                participants.append(p)
            }
            var seq = 0
            let settled = try screen.next(seen: { seq = max(seq, $0["seq"] as? Int ?? 0) }) {
                $0.type == "results" && $0.counts == [12, 15, 3]
            }
            XCTAssertEqual(settled["total"] as? Int, 30)
            XCTAssertGreaterThan(settled["seq"] as? Int ?? 0, seq, "seq grows")

            // Three change their mind from Mars to Venus: counts move, total stays.
            for p in participants[0..<3] { XCTAssertEqual(try p.choose(poll, [2]).type, "ack") }
            let changed = try screen.next { $0.type == "results" && $0.counts == [9, 15, 6] }
            XCTAssertEqual(changed["total"] as? Int, 30)

            // Hide: screens and participants see no count; the console and the results API still do.
            let console = try TestWebSocket(port: s.port, path: "/ws/alice?role=console&token=\(token)")
            _ = try console.next { $0.type == "results" && $0.counts == [9, 15, 6] }
            try s.control(token, poll, "hide")
            let hiddenState = try screen.next { $0.type == "state" }
            XCTAssertEqual((hiddenState["poll"] as? [String: Any])?["hidden"] as? Bool, true)
            var screenFrames: [[String: Any]] = []
            let hiddenResults = try screen.next(seen: { screenFrames.append($0) }) { $0.type == "results" }
            XCTAssertEqual(hiddenResults["hidden"] as? Bool, true)
            XCTAssertEqual(hiddenResults["total"] as? Int, 30)
            for p in participants[3..<6] { XCTAssertEqual(try p.choose(poll, [1]).type, "ack") }
            XCTAssertEqual(
                try console.next { $0.type == "results" && $0.counts == [6, 18, 6] }["hidden"] as? Bool,
                true
            )
            screenFrames += screen.drain(for: 0.3)
            for frame in screenFrames where frame.type == "results" {
                XCTAssertNil(frame["counts"], "a count left the server while hidden: \(frame)")
                XCTAssertEqual(frame["hidden"] as? Bool, true)
            }
            for p in participants.prefix(6) {
                for frame in p.socket.drain(for: 0.05) { XCTAssertNil(frame["counts"], "\(frame)") }
            }
            let room = try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice")
            XCTAssertFalse(room.text.contains("\"counts\""))
            XCTAssertEqual(try s.results(token, poll).counts, [6, 18, 6], "the owner's results API sees through hide")

            // Show: counts come back.
            try s.control(token, poll, "show")
            _ = try screen.next { $0.type == "results" && $0.counts == [6, 18, 6] }

            // Lock: answers refused, results kept.
            try s.control(token, poll, "lock")
            let locked = try participants[0].choose(poll, [0])
            XCTAssertEqual(locked.errorCode, "locked")
            XCTAssertEqual(try s.results(token, poll).counts, [6, 18, 6])
            try s.control(token, poll, "unlock")

            // Clear: a new round at zero for everyone; round 1 stays readable.
            try s.control(token, poll, "clear")
            let newRound = try participants[0].socket.next {
                $0.type == "state" && ($0["poll"] as? [String: Any])?["round"] as? Int == 2
            }
            XCTAssertTrue(newRound["mine"] is NSNull, "no answer yet in round 2")
            _ = try screen.next { $0.type == "results" && $0["round"] as? Int == 2 && $0.counts == [0, 0, 0] }
            let again = try participants[0].choose(poll, [1])
            XCTAssertEqual(again["round"] as? Int, 2)
            _ = try screen.next { $0.type == "results" && $0["round"] as? Int == 2 && $0.counts == [0, 1, 0] }
            XCTAssertEqual(try s.results(token, poll, round: 1).counts, [6, 18, 6])
            XCTAssertEqual(try s.results(token, poll, round: 2).counts, [0, 1, 0])
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)/results?round=3", token: token).status,
                404
            )

            // CSV of round 1: one row per participant's answer, no names for an anonymous poll.
            let csv = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)/export.csv?round=1", token: token)
            XCTAssertEqual(csv.status, 200)
            XCTAssertTrue(csv.headers["content-type"]?.hasPrefix("text/csv") ?? false)
            let rows = csv.text.split(separator: "\r\n").dropFirst()
            XCTAssertEqual(rows.count, 30)
            XCTAssertEqual(rows.filter { $0.hasSuffix(",B") }.count, 18)
            for p in participants {
                XCTAssertFalse(csv.text.contains(p.id), "an anonymous export names no participant")
            }
        }
    }

    func testAnswersAreIdempotentAndReconnectRestoresMine() throws {
        try withServer { s in
            let token = try s.presenter("bob")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["x", "y"]])
            try s.control(token, poll, "activate")
            let p = try TestParticipant(port: s.port, room: "bob")
            XCTAssertEqual(try p.choose(poll, [1]).type, "ack")
            XCTAssertEqual(try p.choose(poll, [1]).type, "ack", "a resent answer is acked again")
            XCTAssertEqual(try s.results(token, poll)["total"] as? Int, 1, "and counted once")

            let back = try TestParticipant(port: s.port, room: "bob", id: p.id)
            let mine = back.state["mine"] as? [String: Any]
            XCTAssertEqual(mine?["choices"] as? [Int], [1])
            XCTAssertEqual(mine?["round"] as? Int, 1)

            // Without allowChange a different answer is refused, the same one still acked.
            let strict = try s.createPoll(
                token,
                ["type": "choice", "title": "Once", "options": ["x", "y"], "settings": ["allowChange": false]]
            )
            try s.control(token, strict, "activate")
            _ = try back.socket.next { $0.type == "state" }
            XCTAssertEqual(try back.choose(strict, [0]).type, "ack")
            XCTAssertEqual(try back.choose(strict, [1]).errorCode, "already_answered")
            XCTAssertEqual(try back.choose(strict, [0]).type, "ack")
            XCTAssertEqual(try s.results(token, strict).counts, [1, 0])

            // The previous poll is no longer active.
            XCTAssertEqual(try back.choose(poll, [0]).errorCode, "not_active")
        }
    }

    func testMultiSelectIdentifiedPollAndHTTPFallback() throws {
        try withServer { s in
            let token = try s.presenter("carol")
            let poll = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Pick two", "options": ["a", "b", "c", "d"],
                    "settings": ["maxChoices": 2, "identified": true],
                ]
            )
            try s.control(token, poll, "activate")
            let named = try TestParticipant(port: s.port, room: "carol", name: "Ada")
            XCTAssertEqual(try named.choose(poll, [3, 1]).type, "ack")
            XCTAssertEqual(try named.choose(poll, [0, 1, 2]).errorCode, "bad_request")
            let anonymous = try TestParticipant(port: s.port, room: "carol")
            XCTAssertEqual(try anonymous.choose(poll, [0]).errorCode, "bad_request", "identified polls need a name")

            let viaHTTP = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/rooms/carol/answers",
                ["participant": newParticipantID(), "poll": poll, "choices": [1], "name": "Grace", "ref": 7]
            )
            XCTAssertEqual(viaHTTP.status, 200, viaHTTP.text)
            XCTAssertEqual(viaHTTP.json["type"] as? String, "ack")
            XCTAssertEqual(viaHTTP.json["ref"] as? Int, 7)
            XCTAssertEqual(try s.results(token, poll).counts, [0, 2, 0, 1])

            let csv = try TestHTTP.json(port: s.port, "GET", "/api/export.csv?polls=\(poll)", token: token).text
            XCTAssertTrue(csv.contains(",Ada,\"B,D\""), csv)
            XCTAssertTrue(csv.contains(",Grace,B"), csv)
        }
    }

    func testParticipantsSeeResultsOnlyWhenAllowed() throws {
        try withServer { s in
            let token = try s.presenter("dave")
            let closed = try s.createPoll(token, ["type": "choice", "title": "Private", "options": ["a", "b"]])
            try s.control(token, closed, "activate")
            let p = try TestParticipant(port: s.port, room: "dave")
            let screen = try TestWebSocket(port: s.port, path: "/ws/dave?role=screen")
            XCTAssertEqual(try p.choose(closed, [0]).type, "ack")
            // The screen sees the change, so its frame went out; p's frames up to an ack sent
            // after that would include it, had p been sent one.
            _ = try screen.next { $0.type == "results" && $0.counts == [1, 0] }
            var before: [[String: Any]] = []
            try p.socket.send(json: ["type": "answer", "ref": 99, "poll": closed, "choices": [0]])
            _ = try p.socket.next(seen: { before.append($0) }) { $0.type == "ack" && $0["ref"] as? Int == 99 }
            XCTAssertFalse(before.contains { $0.type == "results" }, "no results for participants: \(before)")

            let open = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Shared", "options": ["a", "b"],
                    "settings": ["showResultsToParticipants": true],
                ]
            )
            try s.control(token, open, "activate")
            XCTAssertEqual(try p.choose(open, [1]).type, "ack")
            _ = try p.socket.next { $0.type == "results" && $0.counts == [0, 1] }

            // Hidden: participants who get results still see no count, only the total.
            try s.control(token, open, "hide")
            var seen: [[String: Any]] = []
            let hidden = try p.socket.next(seen: { seen.append($0) }) {
                $0.type == "results" && $0["hidden"] as? Bool == true
            }
            XCTAssertNil(hidden["counts"])
            XCTAssertEqual(hidden["total"] as? Int, 1)
            let other = try TestParticipant(port: s.port, room: "dave")
            XCTAssertEqual(try other.choose(open, [0]).type, "ack")
            seen += p.socket.drain(for: 0.3)
            let afterHide = seen.drop { $0.type != "state" }
            XCTAssertFalse(afterHide.isEmpty)
            for frame in afterHide where frame.type == "results" {
                XCTAssertNil(frame["counts"], "a count reached a participant while hidden: \(frame)")
            }
            try s.control(token, open, "show")
            _ = try p.socket.next { $0.type == "results" && $0.counts == [1, 1] }
        }
    }
}

/// `--event-loop poll` (lws' own loop) keeps the same behaviour as the default libuv loop.
final class PollEventLoopTests: XCTestCase {
    func testAnswersCountsAndDrainOnThePollLoop() throws {
        let server = try TestServer(configure: { $0.eventLoop = .poll })
        defer { try? FileManager.default.removeItem(atPath: server.dataDirectory) }
        var stopped = false
        defer { if !stopped { server.shutdown() } }
        let token = try server.presenter("polly")
        let poll = try server.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
        try server.control(token, poll, "activate")
        let screen = try TestWebSocket(port: server.port, path: "/ws/polly?role=screen")
        let participants = try (0..<5).map { _ in try TestParticipant(port: server.port, room: "polly") }
        for (i, p) in participants.enumerated() { XCTAssertEqual(try p.choose(poll, [i % 2]).type, "ack") }
        _ = try screen.next { $0.type == "results" && $0.counts == [3, 2] }
        let done = DispatchSemaphore(value: 0)
        Thread {
            server.shutdown()
            done.signal()
        }.start()
        XCTAssertThrowsError(try screen.next { _ in false }) { error in
            XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1001)
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        stopped = true
    }
}

/// Open and word-cloud polls end to end, including an open poll with long answers.
final class OtherPollTypesTests: XCTestCase {
    func testOpenAndWordCloudPolls() throws {
        try withServer { s in
            let token = try s.presenter("olga")
            let open = try s.createPoll(token, ["type": "open", "title": "What did you learn?"])
            try s.control(token, open, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/olga?role=screen")
            // 150 long answers: the screen still gets frames (the newest 100) and stays connected.
            for i in 0..<150 {
                let p = try TestParticipant(port: s.port, room: "olga")
                let text = "\"answer\" \(i) " + String(repeating: "\"", count: 260)
                XCTAssertEqual(try p.answer(open, ["text": text]).type, "ack")
            }
            let frame = try screen.next { $0.type == "results" && $0["total"] as? Int == 150 }
            let responses = try XCTUnwrap(frame["responses"] as? [String])
            XCTAssertEqual(responses.count, 100)
            XCTAssertTrue(responses[0].hasPrefix("\"answer\" 149"), "newest first")
            let csv = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(open)/export.csv", token: token).text
            XCTAssertEqual(csv.split(separator: "\r\n").count, 151, "the export has every response")

            let cloud = try s.createPoll(token, ["type": "wordcloud", "title": "One word"])
            try s.control(token, cloud, "activate")
            for words in [["Swift", "fast"], ["swift"], [" SWIFT ", "safe"]] {
                let p = try TestParticipant(port: s.port, room: "olga")
                XCTAssertEqual(try p.answer(cloud, ["words": words]).type, "ack")
            }
            let words = try screen.next { $0.type == "results" && $0["total"] as? Int == 3 }
            let top = try XCTUnwrap(words["words"] as? [[Any]])
            XCTAssertEqual(top.first?.first as? String, "swift")
            XCTAssertEqual(top.first?.last as? Int, 3)
        }
    }
}

/// Moderation: the presenter hides one open response from the room; it stays counted and exported.
final class ModerationTests: XCTestCase {
    func testHiddenResponsesLeaveEveryPublicViewAndComeBack() throws {
        let data = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var server: TestServer? = try TestServer(dataDirectory: data)
        defer { server?.shutdown() }
        let s = try XCTUnwrap(server)
        let token = try s.presenter("mona")
        let open = try s.createPoll(
            token,
            ["type": "open", "title": "Say", "settings": ["showResultsToParticipants": true]]
        )
        try s.control(token, open, "activate")
        let screen = try TestWebSocket(port: s.port, path: "/ws/mona?role=screen")
        let console = try TestWebSocket(port: s.port, path: "/ws/mona?role=console&token=\(token)")
        for text in ["kind words", "something rude", "more kind words"] {
            XCTAssertEqual(try TestParticipant(port: s.port, room: "mona").answer(open, ["text": text]).type, "ack")
        }
        _ = try screen.next { ($0["responses"] as? [String])?.count == 3 }

        let hide = try TestHTTP.json(
            port: s.port,
            "POST",
            "/api/polls/\(open)/moderate",
            token: token,
            ["text": "something rude"]
        )
        XCTAssertEqual(hide.status, 200, hide.text)
        XCTAssertEqual(hide.json["moderated"] as? [String], ["something rude"])
        let cleaned = try screen.next { ($0["responses"] as? [String])?.count == 2 }
        XCTAssertFalse((cleaned["responses"] as? [String] ?? []).contains("something rude"))
        XCTAssertNil(cleaned["moderated"], "the screen is not told what was hidden")
        XCTAssertEqual(cleaned["total"] as? Int, 3, "still counted")
        let owner = try console.next { $0["moderated"] as? [String] == ["something rude"] }
        XCTAssertEqual((owner["responses"] as? [String])?.count, 2)
        let csv = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(open)/export.csv", token: token).text
        XCTAssertTrue(csv.contains("something rude"), "the export keeps the record")

        // Moderation survives a restart, and can be undone.
        s.shutdown()
        server = nil
        let again = try TestServer(dataDirectory: data)
        server = again
        let login = try TestHTTP.json(
            port: again.port,
            "POST",
            "/api/login",
            ["username": "mona", "password": "correct horse battery"]
        )
        let token2 = try XCTUnwrap(login.json["token"] as? String)
        XCTAssertEqual((try again.results(token2, open)["responses"] as? [String])?.count, 2)
        let show = try TestHTTP.json(
            port: again.port,
            "POST",
            "/api/polls/\(open)/moderate",
            token: token2,
            ["text": "something rude", "hidden": false]
        )
        XCTAssertEqual((show.json["responses"] as? [String])?.count, 3)

        let choice = try again.createPoll(token2, ["type": "choice", "title": "Q", "options": ["a", "b"]])
        let refused = try TestHTTP.json(
            port: again.port,
            "POST",
            "/api/polls/\(choice)/moderate",
            token: token2,
            ["text": "a"]
        )
        XCTAssertEqual(refused.status, 400)
        let stranger = try again.presenter("nosy")
        XCTAssertEqual(
            try TestHTTP.json(
                port: again.port,
                "POST",
                "/api/polls/\(open)/moderate",
                token: stranger,
                ["text": "kind words"]
            ).status,
            404
        )
    }
}
