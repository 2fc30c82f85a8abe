import Foundation
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
        XCTAssertEqual(
            PublicAddress.normalized(" HTTPS://Polls.Example.edu/class// "),
            "https://polls.example.edu/class"
        )
        for bad in [
            "ftp://x", "http://", "10.0.0.5:8080", "http://a/b?c=d", "http://a/#x", "http://u:p@a/",
            "http://a/<script>", "http://a b/", "javascript:alert(1)", "http://a:99999/",
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
                try TestHTTP.json(port: s.port, "POST", "/api/password", token: token, ["password": "short"]).status,
                400
            )
            let set = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/password",
                token: token,
                ["password": "a sentence I remember 🍎"]
            )
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
            let missing = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/password",
                token: back,
                ["password": "another one!"]
            )
            XCTAssertEqual(missing.status, 400)
            let wrong = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/password",
                token: back,
                ["current": "not it at all", "password": "another one!"]
            )
            XCTAssertEqual(wrong.status, 403)
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: back).status, 200, "still in")
            let right = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/password",
                token: back,
                ["current": "a sentence I remember 🍎", "password": "another one!"]
            )
            XCTAssertEqual(right.status, 200)
            _ = try s.login("teacher", password: "another one!")
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
            for path in ["/alicee", "/present/alicee"] {
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
}
