import Foundation
import PollcastCore
import XCTest

/// Pre/post: a question asked at the start and again at the end of class, compared on
/// the screen, in the console's numbers and in a CSV with one row per participant.
final class CompareRoundsTests: XCTestCase {
    func testTheScreenComparesRoundOneWithNowAndHideStillHidesBoth() throws {
        let data = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var poll = ""
        do {
            let s = try TestServer(dataDirectory: data)
            defer { s.shutdown() }
            let token = try s.presenter("alice")
            poll = try s.createPoll(
                token,
                [
                    "type": "choice",
                    "title": "A ball is thrown straight up. At the top of its path, what is its acceleration?",
                    "options": ["Zero", "9.8 m/s² downwards", "9.8 m/s² upwards", "It depends on the mass"],
                    "settings": ["correct": [1], "identified": true],
                ]
            )
            try s.control(token, poll, "activate")
            let students = try ["Ada", "Grace", "Linus", "Zoë"].map { name in
                try TestParticipant(port: s.port, room: "alice", name: name)
            }
            // At the start of class: one of four right.
            for (student, choice) in zip(students, [0, 1, 0, 3]) {
                XCTAssertEqual(try student.choose(poll, [choice]).type, "ack")
            }
            try s.control(token, poll, "clear")
            // At the end: Ada moved to the right answer, Grace stayed right, Linus is
            // still wrong, Zoë did not answer again, and a late-comer is right.
            for (student, choice) in zip(students.prefix(3), [1, 1, 2]) {
                XCTAssertEqual(try student.choose(poll, [choice]).type, "ack")
            }
            XCTAssertEqual(try TestParticipant(port: s.port, room: "alice", name: "Ming").choose(poll, [1]).type, "ack")

            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            let plain = try screen.next { $0.type == "results" && $0.counts == [0, 3, 1, 0] }
            XCTAssertNil(plain["baseline"], "no round 1 on the screen until the presenter compares")

            let shown = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls/\(poll)/display",
                token: token,
                ["compareRounds": true]
            )
            XCTAssertEqual(shown.status, 200, shown.text)
            XCTAssertEqual((shown.json["settings"] as? [String: Any])?["compareRounds"] as? Bool, true)
            let compared = try screen.next { $0.type == "results" && $0["baseline"] != nil }
            let baseline = compared["baseline"] as? [String: Any]
            XCTAssertEqual(baseline?["round"] as? Int, 1)
            XCTAssertEqual(baseline?["counts"] as? [Int], [2, 1, 0, 1])
            XCTAssertEqual(baseline?["total"] as? Int, 4)
            XCTAssertEqual(compared.counts, [0, 3, 1, 0])
            XCTAssertEqual(compared["round"] as? Int, 2)

            // Hidden: neither round's counts leave for the screen; the console has both.
            let console = try TestWebSocket(port: s.port, path: "/ws/alice?role=console&token=\(token)")
            try s.control(token, poll, "hide")
            let hidden = try screen.next { $0.type == "results" && $0["hidden"] as? Bool == true }
            XCTAssertNil(hidden["baseline"])
            XCTAssertNil(hidden["counts"])
            let full = try console.next { $0.type == "results" && $0["hidden"] as? Bool == true }
            XCTAssertEqual((full["baseline"] as? [String: Any])?["counts"] as? [Int], [2, 1, 0, 1])
            try s.control(token, poll, "show")

            let open = try s.createPoll(token, ["type": "open", "title": "Why?"])
            let refused = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls/\(open)/display",
                token: token,
                ["compareRounds": true]
            )
            XCTAssertEqual(refused.status, 400)
        }
        // After a restart round 1's counts are read back from the store.
        let s = try TestServer(dataDirectory: data)
        defer { s.shutdown() }
        let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
        let frame = try screen.next { $0.type == "results" }
        XCTAssertEqual((frame["baseline"] as? [String: Any])?["counts"] as? [Int], [2, 1, 0, 1])
        XCTAssertEqual(frame.counts, [0, 3, 1, 0])
    }

    func testTheConsoleCountsWhoMovedToTheRightAnswerAndTheCSVPairsTheRounds() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Which of these are prime?",
                    "options": ["2", "9", "11", "21"],
                    "settings": ["correct": [0, 2], "maxChoices": 2, "identified": true],
                ]
            )
            try s.control(token, poll, "activate")
            let ada = try TestParticipant(port: s.port, room: "alice", name: "Ada")
            let grace = try TestParticipant(port: s.port, room: "alice", name: "=Grace")
            let linus = try TestParticipant(port: s.port, room: "alice", name: "Linus")
            XCTAssertEqual(try ada.choose(poll, [0]).type, "ack")  // half right: wrong
            XCTAssertEqual(try grace.choose(poll, [0, 2]).type, "ack")  // right
            XCTAssertEqual(try linus.choose(poll, [1, 3]).type, "ack")  // wrong
            try s.control(token, poll, "clear")
            XCTAssertEqual(try ada.choose(poll, [0, 2]).type, "ack")  // wrong to right
            XCTAssertEqual(try grace.choose(poll, [2]).type, "ack")  // right to wrong
            XCTAssertEqual(try linus.choose(poll, [1, 3]).type, "ack")  // stayed wrong

            let reply = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)/compare", token: token)
            XCTAssertEqual(reply.status, 200, reply.text)
            let from = reply.json["from"] as? [String: Any]
            let to = reply.json["to"] as? [String: Any]
            XCTAssertEqual(from?["counts"] as? [Int], [2, 1, 1, 1])
            XCTAssertEqual(to?["counts"] as? [Int], [1, 1, 2, 1])
            XCTAssertEqual(from?["right"] as? Double ?? -1, 1.0 / 3, accuracy: 1e-9)
            XCTAssertEqual(to?["right"] as? Double ?? -1, 1.0 / 3, accuracy: 1e-9)
            let movement = reply.json["movement"] as? [String: Int]
            XCTAssertEqual(movement?["answeredBoth"], 3)
            XCTAssertEqual(movement?["wrongToRight"], 1)
            XCTAssertEqual(movement?["rightToWrong"], 1)
            XCTAssertEqual(movement?["stayedWrong"], 1)
            XCTAssertEqual(movement?["stayedRight"], 0)

            let csv = try TestHTTP.request(
                port: s.port,
                "GET",
                "/api/polls/\(poll)/compare.csv",
                headers: ["Authorization": "Bearer \(token)"]
            )
            XCTAssertEqual(csv.status, 200)
            XCTAssertEqual(
                csv.text.components(separatedBy: "\r\n").filter { !$0.isEmpty },
                [
                    "respondent,name,round 1,round 2,right in round 1,right in round 2",
                    "1,Ada,A,\"A,C\",no,yes",
                    "2,'=Grace,\"A,C\",C,yes,no",
                    "3,Linus,\"B,D\",\"B,D\",no,no",
                ]
            )
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)/compare?to=3", token: token).status,
                404
            )
            let bob = try s.presenter("bob")
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)/compare", token: bob).status, 404)
        }
    }
}
