import Foundation
import PollcastApp
import PollcastCore
import PollcastStore
import XCTest

@testable import PollcastServer

/// What a teacher meets in front of a class: the address the audience is shown, getting
/// back in after logging out, restarts the pages do not notice, names of identified polls.
final class ClassroomTests: XCTestCase {
    func testPublicURLDecidesTheJoinAddressAndTheQRCodeNotTheHostHeader() throws {
        let configure: (inout ServerConfig) -> Void = { $0.publicURL = "http://192.168.50.7:8080" }
        try withServer(configure: configure) { s in
            _ = try s.presenter("alice")
            let room = try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice", headers: ["Host": "localhost:9"])
            XCTAssertEqual(room.json["join"] as? String, "http://192.168.50.7:8080/alice")
            let qr = try TestHTTP.request(port: s.port, "GET", "/qr/alice.svg", headers: ["Host": "localhost:9"])
            XCTAssertEqual(qr.status, 200)
            XCTAssertEqual(qr.text, JoinQRCode.svg(for: "http://192.168.50.7:8080/alice"))
            XCTAssertNotEqual(qr.text, JoinQRCode.svg(for: "http://localhost:9/alice"))
        }
        // Without one: the interface it is bound to (tests bind loopback), never the Host header.
        try withServer { s in
            _ = try s.presenter("alice")
            let room = try TestHTTP.json(port: s.port, "GET", "/api/rooms/alice", headers: ["Host": "evil.example"])
            XCTAssertEqual(room.json["join"] as? String, "http://127.0.0.1:\(s.port)/alice")
        }
    }

    func testPublicURLsAreCheckedAndTheGuessIsNeverLocalhost() {
        XCTAssertEqual(PublicAddress.normalized("http://10.0.0.5:8080/"), "http://10.0.0.5:8080")
        XCTAssertEqual(PublicAddress.normalized(" HTTPS://Polls.Example.edu// "), "https://polls.example.edu")
        XCTAssertEqual(PublicAddress.normalized("http://[fd00::5]:8080"), "http://[fd00::5]:8080")
        for bad in [
            "ftp://x", "http://", "10.0.0.5:8080", "http://a/b?c=d", "http://a/#x", "http://u:p@a/",
            "http://a/<script>", "http://a b/", "javascript:alert(1)", "http://a:99999/", "http://polls.edu/class",
            // Escapes decode into anything: a query, user info, a path, markup, a line break.
            "http://a%2F%2Fb%3F", "http://%40x", "http://x%2Fevil.com", "http://a%3Cscript%3E.com", "http://a%0ab",
            "http://x/%2F", "http://x/..", "http://[::1", "http://a:0",
        ] {
            XCTAssertNil(PublicAddress.normalized(bad), bad)
        }
        let guess = PublicAddress.guessed(boundHost: nil, port: 8080, secure: false)
        XCTAssertFalse(guess.url.contains("localhost") || guess.url.contains("127.0.0.1"), guess.url)
        XCTAssertTrue(guess.url.hasPrefix("http://") && guess.url.hasSuffix(":8080"), guess.url)
        XCTAssertEqual(
            PublicAddress.guessed(boundHost: "0.0.0.0", port: 443, secure: true).url.hasSuffix(":443"),
            false
        )
        XCTAssertEqual(PublicAddress.guessed(boundHost: "fd00::5", port: 80, secure: false).url, "http://[fd00::5]")
    }

    /// The contract: `seq` grows for every frame a connection receives, across restarts.
    func testSeqGrowsAcrossARestart() throws {
        let data = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var before = 0
        var poll = ""
        do {
            let s = try TestServer(dataDirectory: data)
            defer { s.shutdown() }
            let token = try s.presenter("alice")
            poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            XCTAssertEqual(try TestParticipant(port: s.port, room: "alice").choose(poll, [0]).type, "ack")
            XCTAssertEqual(try TestParticipant(port: s.port, room: "alice").choose(poll, [1]).type, "ack")
            let frame = try screen.next { $0.type == "results" && $0.counts == [1, 1] }
            before = frame["seq"] as? Int ?? 0
        }
        let s = try TestServer(dataDirectory: data)
        defer { s.shutdown() }
        let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
        let frame = try screen.next { $0.type == "results" }
        XCTAssertEqual(frame.counts, [1, 1], "the restarted server has the answers")
        let after = frame["seq"] as? Int ?? 0
        XCTAssertGreaterThan(after, before, "a restarted server's first frame is newer than the last one before")
        XCTAssertLessThan(after, 1 << 53, "seq stays exact in a browser's JSON numbers")
    }

    func testAPresenterSetsAPasswordInTheBrowserAndCanComeBackAfterLoggingOut() throws {
        try withServer { s in
            func changePassword(_ token: String, _ body: [String: Any]) throws -> TestResponse {
                try TestHTTP.json(port: s.port, "POST", "/api/password", token: token, body)
            }
            try s.server.accounts.createAccountWithoutPassword(username: "teacher")
            // No password yet: none works, not even an empty one.
            for guess in ["", "correct horse battery", "x"] {
                let tried = try TestHTTP.json(
                    port: s.port,
                    "POST",
                    "/api/login",
                    ["username": "teacher", "password": guess]
                )
                XCTAssertEqual(tried.status, 401)
            }
            let link = try s.server.accounts.createLoginLink(username: "teacher")
            let redeemed = try TestHTTP.request(port: s.port, "GET", "/login?link=\(link)")
            XCTAssertEqual(redeemed.status, 303)
            let cookie = try XCTUnwrap(redeemed.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            let token = String(cookie.dropFirst("pollcast_session=".count))
            let me = try TestHTTP.json(port: s.port, "GET", "/api/me", token: token)
            XCTAssertEqual(me.json["hasPassword"] as? Bool, false)
            let otherBrowser = try s.server.accounts.redeemLoginLink(
                try s.server.accounts.createLoginLink(username: "teacher")
            ).token

            XCTAssertEqual(
                try changePassword(token, ["password": "short"]).status,
                400
            )
            let set = try changePassword(token, ["password": "a sentence I remember 🍎"])
            XCTAssertEqual(set.status, 200, set.text)
            XCTAssertNotNil(set.json["csrf"] as? String)
            let newCookie = try XCTUnwrap(set.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            let newToken = String(newCookie.dropFirst("pollcast_session=".count))
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: token).status, 401)
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: otherBrowser).status, 401)
            let now = try TestHTTP.json(port: s.port, "GET", "/api/me", token: newToken)
            XCTAssertEqual(now.json["hasPassword"] as? Bool, true, "this browser stays logged in")

            // Log out, then in again with the new password.
            XCTAssertEqual(try TestHTTP.json(port: s.port, "POST", "/api/logout", token: newToken).status, 204)
            let back = try s.login("teacher", password: "a sentence I remember 🍎")

            // Changing it now takes the current one.
            let missing = try changePassword(back, ["password": "another one!"])
            XCTAssertEqual(missing.status, 400)
            let wrong = try changePassword(back, ["current": "not it at all", "password": "another one!"])
            XCTAssertEqual(wrong.status, 403)
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: back).status, 200, "still in")
            let right = try changePassword(back, ["current": "a sentence I remember 🍎", "password": "another one!"])
            XCTAssertEqual(right.status, 200)
            _ = try s.login("teacher", password: "another one!")
            let bearer = try XCTUnwrap(right.json["token"] as? String, "a Bearer client gets its new token")
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: bearer).status, 200)

            // Nothing a keyboard cannot type again, and not only blanks.
            for weak in [
                String(repeating: " ", count: 8), String(repeating: "\u{200B}", count: 8), "abcdefg\u{0}h",
                "password\u{202E}",
            ] {
                let refused = try changePassword(bearer, ["current": "another one!", "password": weak])
                XCTAssertEqual(refused.status, 400, weak.debugDescription)
            }
            // "é" as one character or as e + accent is the same password.
            let composed = try changePassword(bearer, ["current": "another one!", "password": "caf\u{E9}caf\u{E9}!"])
            XCTAssertEqual(composed.status, 200)
            _ = try s.login("teacher", password: "cafe\u{301}cafe\u{301}!")
        }
    }

    func testAUsedLoginLinkAndAMistypedRoomGetPagesNotJSON() throws {
        try withServer { s in
            _ = try s.presenter("alice")
            let link = try s.server.accounts.createLoginLink(username: "alice")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/login?link=\(link)").status, 303)
            for path in ["/login?link=\(link)", "/login?link=made-up"] {
                let again = try TestHTTP.request(port: s.port, "GET", path)
                XCTAssertEqual(again.status, 401)
                XCTAssertTrue(again.headers["content-type"]?.hasPrefix("text/html") ?? false)
                XCTAssertTrue(again.text.contains("already been used or has expired"), again.text)
                XCTAssertTrue(again.text.contains("pollcast user login-link"))
            }
            let capital = try TestHTTP.request(port: s.port, "GET", "/Alice")
            XCTAssertEqual(capital.status, 303)
            XCTAssertEqual(capital.headers["location"], "/alice", "a capitalised room goes to the room")
            let embed = try TestHTTP.request(port: s.port, "GET", "/present/ALICE?embed=1")
            XCTAssertEqual(embed.headers["location"], "/present/alice?embed=1")
            for path in ["/alicee", "/present/alicee", "/present/alicee/extra", "/admin/x", "/a/b/c"] {
                let page = try TestHTTP.request(port: s.port, "GET", path)
                XCTAssertEqual(page.status, 404)
                XCTAssertTrue(page.headers["content-type"]?.hasPrefix("text/html") ?? false, path)
                XCTAssertTrue(page.text.contains("id=\"join\""), "the join form: \(path)")
            }
        }
    }

    func testIdentifiedPollsShowWhoAnsweredAndAnonymousOnesStoreNoName() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let named = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Who leads the lab?", "options": ["Ana", "Bo", "Cy"],
                    "settings": ["identified": true],
                ]
            )
            try s.control(token, named, "activate")
            let ana = try TestParticipant(port: s.port, room: "alice", name: "Ana Müller 🧪")
            let bo = try TestParticipant(port: s.port, room: "alice", name: "Bo")
            XCTAssertEqual(try ana.choose(named, [1]).type, "ack")
            XCTAssertEqual(try bo.choose(named, [2]).type, "ack")
            XCTAssertEqual(try ana.choose(named, [0]).type, "ack")
            let list = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(named)/responses", token: token).json
            XCTAssertEqual(list["identified"] as? Bool, true)
            let rows = list["responses"] as? [[String: Any]] ?? []
            XCTAssertEqual(rows.map { $0["name"] as? String }, ["Ana Müller 🧪", "Bo"], "newest first")
            XCTAssertEqual(rows.map { $0["answer"] as? String }, ["A", "C"])
            XCTAssertEqual(rows.first?["choices"] as? [Int], [0])

            // Anonymous: the same people with the same names in hello, and no name anywhere.
            let anonymous = try s.createPoll(token, ["type": "open", "title": "Any feedback?"])
            try s.control(token, anonymous, "activate")
            let ana2 = try TestParticipant(port: s.port, room: "alice", name: "Ana Müller 🧪")
            XCTAssertEqual(try ana2.answer(anonymous, ["text": "more labs"]).type, "ack")
            let none = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(anonymous)/responses", token: token).json
            XCTAssertEqual(none["identified"] as? Bool, false)
            XCTAssertEqual((none["responses"] as? [Any])?.count, 0)
            let stored = try PollStore(directory: s.dataDirectory).answers(poll: anonymous, round: 1)
            XCTAssertEqual(stored.count, 1)
            XCTAssertNil(stored[0].name, "the store holds no name for an anonymous poll")
            let csv = try TestHTTP.request(
                port: s.port,
                "GET",
                "/api/polls/\(anonymous)/export.csv",
                headers: ["Authorization": "Bearer \(token)"]
            )
            XCTAssertFalse(csv.text.contains("Ana"))
            XCTAssertEqual(
                try TestHTTP.json(port: s.port, "GET", "/api/polls/\(named)/responses?round=2", token: token).status,
                404
            )
        }
    }

    func testChartTypeAndPercentSwitchLiveForTheWholeRoom() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            _ = try screen.next { $0.type == "state" }
            let changed = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/polls/\(poll)/display",
                token: token,
                ["chart": "donut", "showPercent": true]
            )
            XCTAssertEqual(changed.status, 200, changed.text)
            let state = try screen.next { $0.type == "state" }
            let settings = (state["poll"] as? [String: Any])?["settings"] as? [String: Any]
            XCTAssertEqual(settings?["chart"] as? String, "donut")
            XCTAssertEqual(settings?["showPercent"] as? Bool, true)
            for bad: [String: Any] in [[:], ["chart": "radar"], ["showPercent": "yes"]] {
                let refused = try TestHTTP.json(port: s.port, "POST", "/api/polls/\(poll)/display", token: token, bad)
                XCTAssertEqual(refused.status, 400, "\(bad): \(refused.text)")
            }
        }
    }

    /// SipHash-2-4 as its authors' reference vectors give it (key 00..0f).
    func testSipHashMatchesTheReferenceVectors() {
        let key: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908)
        XCTAssertEqual(Crypto.sipHash24(key: key, [UInt8]()), 0x726f_db47_dd0e_0e31)
        XCTAssertEqual(Crypto.sipHash24(key: key, (0..<15).map(UInt8.init)), 0xa129_ca61_49be_45e5)
        XCTAssertEqual(Crypto.sipHash24(key: key, (0..<8).map(UInt8.init)), 0x93f5_f579_9a93_2462)
    }

    /// A phone's id is never stored: every poll keeps its own keyed hash of it, so an
    /// anonymous poll cannot be joined to an identified poll's names through the file.
    func testStoredRespondentsCannotBeLinkedAcrossPolls() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let named = try s.createPoll(
                token,
                ["type": "choice", "title": "Named", "options": ["a", "b"], "settings": ["identified": true]]
            )
            let anonymous = try s.createPoll(token, ["type": "choice", "title": "Anonymous", "options": ["a", "b"]])
            let carol = newParticipantID()
            try s.control(token, named, "activate")
            XCTAssertEqual(
                try TestParticipant(port: s.port, room: "alice", id: carol, name: "Carol").choose(named, [0]).type,
                "ack"
            )
            try s.control(token, anonymous, "activate")
            let again = try TestParticipant(port: s.port, room: "alice", id: carol)
            XCTAssertEqual(try again.choose(anonymous, [1]).type, "ack")
            let store = try PollStore(directory: s.dataDirectory)
            let first = try store.answers(poll: named, round: 1).map(\.participant)
            let second = try store.answers(poll: anonymous, round: 1).map(\.participant)
            XCTAssertEqual(first.count, 1)
            XCTAssertEqual(second.count, 1)
            XCTAssertNotEqual(first, second, "one phone, two unrelated respondents")
            XCTAssertFalse((first + second).contains(carol), "the id itself is never stored")
            // The same phone is still one respondent within a poll: a change, not a second answer.
            XCTAssertEqual(try again.choose(anonymous, [0]).type, "ack")
            XCTAssertEqual(try s.results(token, anonymous)["total"] as? Int, 1)
        }
    }

    /// A store written before ids were keyed is keyed once at start: every answer stays
    /// counted, each phone still finds its answer, and a change does not count twice.
    func testAnOlderStoreIsKeyedOnceAndKeepsEveryAnswer() throws {
        let data = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let ids = (0..<3).map { _ in newParticipantID() }
        do {
            let store = try PollStore(directory: data)
            try AccountService(store: store).createAccount(username: "alice", password: "correct horse battery")
            var state = PollState()
            state.active = true
            let poll = Poll(
                id: "oldpoll",
                owner: "alice",
                type: .choice,
                title: "Saved by an older pollcast",
                options: ["yes", "no"],
                settings: PollSettings(),
                state: state,
                createdAt: 1
            )
            try store.savePolls([poll])
            try store.commitAnswers(
                zip(ids, ["0", "1", "0"]).map {
                    StoredAnswer(
                        poll: "oldpoll",
                        round: 1,
                        participant: $0,
                        name: nil,
                        answer: $1,
                        revision: 1,
                        time: 1
                    )
                }
            )
        }
        for restart in 0..<2 {
            let s = try TestServer(dataDirectory: data)
            defer { s.shutdown() }
            let token = try s.login("alice")
            let results = try s.results(token, "oldpoll")
            XCTAssertEqual(results["total"] as? Int, 3, "start \(restart)")
            let phone = try TestParticipant(port: s.port, room: "alice", id: ids[0])
            let mine = phone.state["mine"] as? [String: Any]
            XCTAssertEqual(mine?["choices"] as? [Int], restart == 0 ? [0] : [1], "the phone finds its answer")
            if restart == 0 { XCTAssertEqual(try phone.choose("oldpoll", [1]).type, "ack") }
            let after = try s.results(token, "oldpoll")
            XCTAssertEqual(after["counts"] as? [Int], [1, 2], "a change, not a fourth answer")
            let stored = try PollStore(directory: data).answers(poll: "oldpoll", round: 1).map(\.participant)
            XCTAssertTrue(Set(stored).isDisjoint(with: ids), "no raw id is left")
        }
    }

    /// A connection that joins between an answer and the tick is greeted with the newest
    /// results; the tick must still send them to everyone else. (The screens of a room
    /// stayed on the old count when a console or participant connected in between.)
    func testAJoinBeforeTheTickDoesNotSwallowTheBroadcast() throws {
        try withServer(tickMilliseconds: 1000) { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(token, ["type": "open", "title": "What did you think?"])
            try s.control(token, poll, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            XCTAssertEqual(
                try TestParticipant(port: s.port, room: "alice").answer(poll, ["text": "loved it"]).type,
                "ack"
            )
            _ = try screen.next { $0.type == "results" && $0["total"] as? Int == 1 }
            XCTAssertEqual(
                try TestParticipant(port: s.port, room: "alice").answer(poll, ["text": "too fast"]).type,
                "ack"
            )
            // Within the same tick (1 s): a console and a participant join and are greeted.
            let console = try TestWebSocket(port: s.port, path: "/ws/alice?role=console&token=\(token)")
            _ = try console.next { $0.type == "results" && $0["total"] as? Int == 2 }
            _ = try TestParticipant(port: s.port, room: "alice")
            let seen = try screen.next(timeout: 5) { $0.type == "results" && $0["total"] as? Int == 2 }
            XCTAssertEqual(seen["responses"] as? [String], ["too fast", "loved it"])
        }
    }
}
