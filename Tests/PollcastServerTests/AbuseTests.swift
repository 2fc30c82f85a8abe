import Foundation
import PollcastApp
import PollcastCore
import PollcastServer
import PollcastStore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What one hostile client can try, each answered without costing anyone else the room:
/// floods that never read, texts that are legal in characters but huge in bytes, stale
/// stored values, cross-site consoles, idle sockets, slow bodies, request smuggling.
final class AbuseTests: XCTestCase {
    /// Resident memory of this process (the server runs in it), in KiB.
    private func residentKB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    private func metric(_ s: TestServer, _ name: String) throws -> Int {
        try s.metric(name) ?? -1
    }

    /// Waits for `condition` up to `seconds`, checking every 50 ms.
    private func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    // MARK: Memory

    /// Three screen sockets send 4 KB frames that are not JSON and never read a reply.
    /// With the usual frame budget they are closed for flooding; with the budget lifted,
    /// the cap on unread replies closes them. Either way memory stays bounded and a
    /// bystander is served.
    func testClientsThatNeverReadAreClosedAndMemoryStaysBounded() throws {
        let unlimited: (inout ServerConfig) -> Void = {
            $0.framesPerSecond = 1_000_000
            $0.frameBurst = 1_000_000
        }
        for (configure, closedBy) in [
            ({ (_: inout ServerConfig) in }, "pollcast_frames_refused_total"),
            (unlimited, "pollcast_connections_overflowed_total"),
        ] {
            try withServer(configure: configure) { s in
                let token = try s.presenter("alice")
                let poll = try s.createPoll(token, ["type": "choice", "title": "Ready?", "options": ["yes", "no"]])
                try s.control(token, poll, "activate")
                let before = residentKB()
                let junk = TestWebSocket.frame(Array(repeating: UInt8(ascii: "x"), count: 4000))
                let burst = Array((0..<64).map { _ in junk }.joined())
                var closed = 0
                var sentFrames = 0
                for _ in 0..<3 {
                    let flooder = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen", receiveBuffer: 4096)
                    do {
                        for _ in 0..<(60_000 / 64) {
                            try flooder.sendRaw(burst)
                            sentFrames += 64
                        }
                    } catch {
                        closed += 1
                    }
                }
                XCTAssertEqual(closed, 3, "every flooder is closed (\(sentFrames) frames were sent)")
                XCTAssertGreaterThan(try metric(s, closedBy), 0, closedBy)
                let grown = residentKB() - before
                print("flood (\(closedBy)): \(sentFrames) frames of 4 KB, resident memory grew by \(grown) KiB")
                XCTAssertLessThan(grown, 48 * 1024, "memory grew by \(grown) KiB")
                let bystander = try TestParticipant(port: s.port, room: "alice")
                XCTAssertEqual(try bystander.choose(poll, [0]).type, "ack", "everyone else is served")
            }
        }
    }

    /// Every frame takes from the connection's budget, whatever it is (a hello, a binary
    /// frame, junk): past it the frame is answered `rate_limited` unparsed, the connection
    /// stays open; a connection that keeps on far past it is closed.
    func testEveryFrameCountsAgainstTheBudget() throws {
        try withServer { s in
            _ = try s.presenter("amos")
            let screen = try TestWebSocket(port: s.port, path: "/ws/amos?role=screen")
            _ = try screen.next { $0.type == "state" }
            let hello = TestWebSocket.frame(Array(#"{"type":"hello"}"#.utf8))
            let binary = TestWebSocket.frame(opcode: 2, [1, 2, 3])
            try screen.sendRaw(Array((0..<60).map { _ in hello + binary }.joined()))
            let replies = screen.drain(for: 1.5)
            let limited = replies.filter { $0.errorCode == "rate_limited" }.count
            let badRequest = replies.filter { $0.errorCode == "bad_request" }.count
            XCTAssertGreaterThanOrEqual(limited, 70, "hellos count too: \(limited) limited of 120")
            XCTAssertLessThanOrEqual(badRequest, 30, "binary frames within the budget")
            try screen.send(json: ["type": "hello"])
            XCTAssertEqual(try metric(s, "pollcast_connections_open"), 1, "the flooder is still connected")

            // Ten bursts' worth past the budget: closed.
            let junk = TestWebSocket.frame(Array("junk".utf8))
            try? screen.sendRaw(Array((0..<600).map { _ in junk }.joined()))
            XCTAssertThrowsError(try screen.next(timeout: 5) { _ in false }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "\(error)")
            }
            XCTAssertGreaterThan(try metric(s, "pollcast_frames_refused_total"), 400)
        }
    }

    /// A message split into endless (empty) fragments is closed: each fragment would
    /// otherwise cost a callback outside the frame budget.
    func testEndlessFragmentsAreClosed() throws {
        try withServer { s in
            _ = try s.presenter("abe")
            let screen = try TestWebSocket(port: s.port, path: "/ws/abe?role=screen")
            _ = try screen.next { $0.type == "state" }
            try screen.send(opcode: 1, Array("{".utf8), final: false)
            for _ in 0..<100 { try? screen.send(opcode: 0, [], final: false) }
            XCTAssertThrowsError(try screen.next(timeout: 5) { _ in false }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "\(error)")
            }
        }
    }

    // MARK: Byte-true limits and frames that fit

    /// Answers that are legal but heavy (flags, escapes, combining marks) fill the screen's
    /// frame; the frame keeps the newest that fit, and the screen stays connected.
    func testHeavyAnswersNeverCutTheScreenOff() throws {
        try withServer { s in
            let token = try s.presenter("bea")
            let open = try s.createPoll(token, ["type": "open", "title": "One word for today's lab? 🔬"])
            try s.control(token, open, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/bea?role=screen")
            let console = try TestWebSocket(port: s.port, path: "/ws/bea?role=console&token=\(token)")
            let heavy = [
                String(repeating: "🇺🇦", count: 139), String(repeating: "\"\\/", count: 93),
                String(repeating: "e" + String(repeating: "\u{0301}", count: 11), count: 48),
            ]
            for i in 0..<100 {
                let p = try TestParticipant(port: s.port, room: "bea")
                XCTAssertEqual(try p.answer(open, ["text": heavy[i % 3] + "\(i % 10)"]).type, "ack", "answer \(i)")
            }
            // The presenter hides 40 long texts: the console's frame lists them too.
            for i in 0..<40 {
                let hide = try TestHTTP.json(
                    port: s.port,
                    "POST",
                    "/api/polls/\(open)/moderate",
                    token: token,
                    ["text": String(repeating: "🙈", count: 270) + "\(i)", "hidden": true]
                )
                XCTAssertEqual(hide.status, 200, hide.text)
            }
            // Legal in characters, not in bytes: refused, over both paths.
            let p = try TestParticipant(port: s.port, room: "bea")
            let flags = try p.answer(open, ["text": String(repeating: "🇺🇦", count: 280)])
            XCTAssertEqual(flags.errorCode, "bad_request")
            XCTAssertTrue((flags["message"] as? String ?? "").contains("bytes"), "\(flags)")
            for text in [
                "a" + String(repeating: "\u{0301}", count: 30_000), String(repeating: "\u{0308}", count: 9_000),
            ] {
                let reply = try TestHTTP.json(
                    port: s.port,
                    "POST",
                    "/api/rooms/bea/answers",
                    ["participant": newParticipantID(), "poll": open, "text": text]
                )
                XCTAssertEqual(reply.status, 400, reply.text)
            }
            // Both live views still get every change, and every frame fits.
            XCTAssertEqual(try p.answer(open, ["text": "still here"]).type, "ack")
            for socket in [screen, console] {
                let latest = try socket.next {
                    $0.type == "results" && ($0["responses"] as? [String])?.first == "still here"
                }
                let shown = latest["responses"] as? [String] ?? []
                XCTAssertGreaterThan(shown.count, 30)
                XCTAssertEqual(latest["total"] as? Int, 101)
                let size = try JSONSerialization.data(withJSONObject: latest).count
                XCTAssertLessThan(size, 112 * 1024)
            }
            // A screen that joins now gets the same frame at once.
            let late = try TestWebSocket(port: s.port, path: "/ws/bea?role=screen")
            XCTAssertEqual(try late.next { $0.type == "results" }["total"] as? Int, 101)
            XCTAssertEqual(try metric(s, "pollcast_frames_dropped_total"), 0)

            // A word cloud of 18 KB words: refused, whatever their character count.
            let cloud = try s.createPoll(token, ["type": "wordcloud", "title": "Words"])
            try s.control(token, cloud, "activate")
            let word = "w" + String(repeating: "\u{0300}", count: 9_000)
            let reply = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/rooms/bea/answers",
                ["participant": newParticipantID(), "poll": cloud, "words": [word]]
            )
            XCTAssertEqual(reply.status, 400, reply.text)
            _ = try screen.next { $0.type == "state" }
        }
    }

    // MARK: Stored values

    /// The documented retype crash: an open poll answered "300" and "1,2", cleared, then
    /// made a two-option choice poll. The edit is refused now; and rows left by an older
    /// version that allowed it are skipped by every reader, before and after a restart.
    func testAnsweredPollsKeepTheirShapeAndOldRowsNeverTrap() throws {
        let dir = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var pollID = ""
        do {
            let s = try TestServer(dataDirectory: dir)
            defer { s.shutdown() }
            let token = try s.presenter("cleo")
            pollID = try s.createPoll(token, ["type": "open", "title": "Pick a number"])
            try s.control(token, pollID, "activate")
            for text in ["300", "1,2"] {
                XCTAssertEqual(
                    try TestParticipant(port: s.port, room: "cleo").answer(pollID, ["text": text]).type,
                    "ack"
                )
            }
            try s.control(token, pollID, "clear")
            let retype = try TestHTTP.json(
                port: s.port,
                "PATCH",
                "/api/polls/\(pollID)",
                token: token,
                ["type": "choice", "options": ["yes", "no"]]
            )
            XCTAssertEqual(retype.status, 409, retype.text)
            let relabel = try TestHTTP.json(
                port: s.port,
                "PATCH",
                "/api/polls/\(pollID)",
                token: token,
                ["title": "Pick a number from 1 to 10"]
            )
            XCTAssertEqual(relabel.status, 200, "a title can still be fixed")
        }
        // What an older version let through: the poll reshaped under its answers.
        do {
            let store = try PollStore(directory: dir)
            var poll = try XCTUnwrap(try store.allPolls().first { $0.id == pollID })
            poll.type = .choice
            poll.options = ["yes", "no"]
            try store.savePolls([poll])
        }
        let s = try TestServer(dataDirectory: dir)
        defer { s.shutdown() }
        let token = try s.login("cleo")
        for _ in 0..<2 {
            let round1 = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(pollID)/results?round=1", token: token)
            XCTAssertEqual(round1.status, 200, round1.text)
            XCTAssertEqual(round1.json["counts"] as? [Int], [0, 0], "neither row is read as choices")
            let csv = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(pollID)/export.csv", token: token)
            XCTAssertEqual(csv.status, 200)
            XCTAssertTrue(csv.text.contains(",300\r\n") && csv.text.contains("\"1,2\""), csv.text)
            XCTAssertFalse(csv.text.contains("B,C"), "a text is never shown as choices")
        }
        XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200)
    }

    /// NUL and other controls are refused in titles, options and names, so nothing is
    /// stored that the store would cut short; real content survives a restart whole.
    func testControlCharactersAreRefusedAndRealTextSurvivesARestart() throws {
        let dir = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let title = "Which of these\nare mammals? 🐋🦇\nPick all that apply."
        var id = ""
        do {
            let s = try TestServer(dataDirectory: dir)
            defer { s.shutdown() }
            let token = try s.presenter("dina")
            for body: [String: Any] in [
                ["type": "choice", "title": "a\u{0000}b", "options": ["x", "y"]],
                ["type": "choice", "title": "ok", "options": ["x\u{0000}", "y"]],
                ["type": "choice", "title": "ok", "options": ["x\u{001B}[31m", "y"]],
                ["type": "open", "title": String(repeating: "\u{0301}", count: 1_000) + "?"],
            ] {
                let reply = try TestHTTP.json(port: s.port, "POST", "/api/polls", token: token, body)
                XCTAssertEqual(reply.status, 400, "\(body): \(reply.text)")
            }
            id = try s.createPoll(
                token,
                [
                    "type": "choice", "title": title,
                    "options": ["Whale 🐋", "Bat 🦇", "Penguin 🐧", "Zoë's cat 🐈"], "settings": ["identified": true],
                ]
            )
            try s.control(token, id, "activate")
            let named = try TestWebSocket(port: s.port, path: "/ws/dina")
            try named.send(json: ["type": "hello", "participant": newParticipantID(), "name": "Ann\u{0000}Lee"])
            XCTAssertEqual(try named.next { $0.type == "error" }.errorCode, "bad_request")
            let zoe = try TestParticipant(port: s.port, room: "dina", name: "Zoë 🦊")
            XCTAssertEqual(try zoe.choose(id, [0]).type, "ack")
        }
        let s = try TestServer(dataDirectory: dir)
        defer { s.shutdown() }
        let token = try s.login("dina")
        let poll = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(id)", token: token).json
        XCTAssertEqual(poll["title"] as? String, title)
        XCTAssertEqual((poll["options"] as? [String])?.last, "Zoë's cat 🐈")
        let csv = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(id)/export.csv", token: token).text
        XCTAssertTrue(csv.contains("Zoë 🦊"), csv)
    }

    // MARK: Consoles

    /// A console socket from another site is refused; one whose session ends (logout, a
    /// new password here, a new password from another process) is closed and gets
    /// nothing more.
    func testConsoleSocketsCheckOriginAndCloseWhenTheirSessionEnds() throws {
        try withServer { s in
            let token = try s.presenter("dan")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Secret", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            try s.control(token, poll, "hide")
            let origin = "http://127.0.0.1:\(s.port)"
            func console(_ token: String, origin: String) throws -> TestWebSocket {
                try TestWebSocket(
                    port: s.port,
                    path: "/ws/dan?role=console",
                    headers: ["Cookie": "pollcast_session=\(token)", "Origin": origin]
                )
            }
            XCTAssertThrowsError(try console(token, origin: "http://evil.example"), "another site's page")
            XCTAssertThrowsError(try console(token, origin: "null"))
            let participant = try TestParticipant(port: s.port, room: "dan")

            // Logout closes the console at once; no result reaches it after.
            let first = try console(token, origin: origin)
            _ = try first.next { $0.type == "results" }
            XCTAssertEqual(try TestHTTP.json(port: s.port, "POST", "/api/logout", token: token).status, 204)
            XCTAssertEqual(try participant.choose(poll, [1]).type, "ack")
            XCTAssertThrowsError(try first.next { $0.type == "results" }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "\(error)")
            }

            // A new password set in this process.
            let second = try s.login("dan")
            let secondConsole = try console(second, origin: origin)
            _ = try secondConsole.next { $0.type == "results" }
            try s.server.accounts.setPassword(username: "dan", password: "a brand new password")
            XCTAssertThrowsError(try secondConsole.next { $0.type == "results" }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "\(error)")
            }

            // A new password set by `pollcast user passwd` (another process, same store).
            let third = try s.login("dan", password: "a brand new password")
            let thirdConsole = try console(third, origin: origin)
            _ = try thirdConsole.next { $0.type == "results" }
            try AccountService(store: try PollStore(directory: s.dataDirectory), iterations: 1_000)
                .setPassword(username: "dan", password: "set from the command line")
            XCTAssertThrowsError(try thirdConsole.next(timeout: 8) { $0.type == "results" }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "\(error)")
            }
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/me", token: third).status, 401)
        }
    }

    // MARK: Connections

    /// Screens and consoles are limited per address; participants behind the same
    /// address all get in; a socket that answers no ping is hung up and its slot freed.
    func testScreensPerAddressAreCappedAndDeadSocketsAreHungUp() throws {
        let limits: (inout ServerConfig) -> Void = {
            $0.maxViewersPerAddress = 3
            $0.idlePingSeconds = 1
        }
        try withServer(configure: limits) { s in
            let token = try s.presenter("eve")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let screens = try (0..<3).map { _ in try TestWebSocket(port: s.port, path: "/ws/eve?role=screen") }
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/eve?role=screen"), "a fourth screen")
            let console = try TestWebSocket(port: s.port, path: "/ws/eve?role=console&token=\(token)")
            _ = try console.next { $0.type == "state" }  // the presenter is not counted with anonymous screens
            let room = try (0..<40).map { _ in try TestParticipant(port: s.port, room: "eve") }
            XCTAssertEqual(try room[39].choose(poll, [1]).type, "ack", "one address, forty participants")

            // Nobody above reads any more, so nobody answers lws' pings: all are hung up.
            XCTAssertTrue(try eventually(10) { try metric(s, "pollcast_connections_open") == 0 })
            XCTAssertEqual(screens.count, 3)
            // A screen that keeps reading answers the pings and stays.
            let live = try TestWebSocket(port: s.port, path: "/ws/eve?role=screen")
            _ = live.drain(for: 3.5)
            let voter = try TestParticipant(port: s.port, room: "eve")
            XCTAssertEqual(try voter.choose(poll, [0]).type, "ack")
            XCTAssertEqual(try live.next { $0.type == "results" }.counts, [1, 1])
        }
    }

    /// Behind a load balancer every connection comes from it: with `--trusted-proxy`,
    /// per-address limits count the address it forwards (its last X-Forwarded-For entry,
    /// not what the client wrote before it); from any other peer the header is ignored.
    func testATrustedProxySaysWhoTheClientIs() throws {
        let behindProxy: (inout ServerConfig) -> Void = {
            $0.maxViewersPerAddress = 2
            $0.trustedProxies = [ProxyRange("127.0.0.0/8")].compactMap { $0 }
        }
        try withServer(configure: behindProxy) { s in
            _ = try s.presenter("vera")
            func screen(from client: String) throws -> TestWebSocket {
                try TestWebSocket(
                    port: s.port,
                    path: "/ws/vera?role=screen",
                    headers: ["X-Forwarded-For": "203.0.113.9, \(client)"]
                )
            }
            // Six screens in the hall, two per classroom address: all admitted.
            let screens = try ["198.51.100.1", "198.51.100.2", "2001:db8::7"].flatMap { a in
                try (0..<2).map { _ in try screen(from: a) }
            }
            XCTAssertEqual(screens.count, 6)
            // A third from one address is refused, whatever the client claimed first.
            XCTAssertThrowsError(try screen(from: "198.51.100.1"))
            // A forwarded entry that is no address counts as the proxy itself.
            _ = try TestWebSocket(port: s.port, path: "/ws/vera?role=screen", headers: ["X-Forwarded-For": "junk"])
            // Behind a proxy that terminates TLS, the session cookie is Secure.
            let body = Array(#"{"username":"vera","password":"correct horse battery"}"#.utf8)
            let overTLS = try TestHTTP.request(
                port: s.port,
                "POST",
                "/api/login",
                headers: ["X-Forwarded-Proto": "https"],
                body: body
            )
            XCTAssertEqual(overTLS.status, 200)
            XCTAssertTrue(overTLS.headers["set-cookie"]?.contains("; Secure") ?? false, "\(overTLS.headers)")
            let plain = try TestHTTP.request(port: s.port, "POST", "/api/login", body: body)
            XCTAssertFalse(plain.headers["set-cookie"]?.contains("Secure") ?? true)
        }
        let untrusting: (inout ServerConfig) -> Void = { $0.maxViewersPerAddress = 2 }
        try withServer(configure: untrusting) { s in
            _ = try s.presenter("walt")
            // Without a trusted proxy the header changes nothing: the third is refused.
            let screens = try (1...2).map { i in
                try TestWebSocket(
                    port: s.port,
                    path: "/ws/walt?role=screen",
                    headers: ["X-Forwarded-For": "192.0.2.\(i)"]
                )
            }
            XCTAssertEqual(screens.count, 2)
            XCTAssertThrowsError(
                try TestWebSocket(port: s.port, path: "/ws/walt?role=screen", headers: ["X-Forwarded-For": "192.0.2.3"])
            )
        }
        XCTAssertNil(ProxyRange("10.0.0.0/33"))
        XCTAssertNil(ProxyRange("proxy.example"))
        XCTAssertEqual(ProxyRange("10.0.0.0/8")?.contains("::ffff:10.1.2.3"), true)
        XCTAssertEqual(ProxyRange("10.0.0.0/8")?.contains("11.0.0.1"), false)
    }

    /// Handshakes read memory only: made-up rooms and forged console tokens are refused
    /// without a store call (the service thread traps on one in debug builds), accounts
    /// added in this process are joinable at once, and from another process within seconds.
    func testHandshakesNeverWaitForTheStore() throws {
        try withServer { s in
            for i in 0..<200 {
                XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/made-up-\(i)?role=screen"))
            }
            _ = try s.presenter("fay")
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/fay?role=console&token=forged"))
            XCTAssertNoThrow(try TestWebSocket(port: s.port, path: "/ws/fay?role=screen"))
            try AccountService(store: try PollStore(directory: s.dataDirectory), iterations: 1_000)
                .createAccount(username: "gus", password: "from the command line")
            XCTAssertTrue(
                eventually(8) { (try? TestWebSocket(port: s.port, path: "/ws/gus?role=screen")) != nil },
                "an account added by `pollcast user add` while serving"
            )
        }
    }

    // MARK: HTTP

    /// A body sent a byte at a time is cut off once its time is up.
    func testSlowBodiesAreCutOff() throws {
        let quick: (inout ServerConfig) -> Void = { $0.bodyTimeoutSeconds = 1.5 }
        try withServer(configure: quick) { s in
            let socket = try TestSocket(port: s.port)
            try socket.send(
                Array(
                    "POST /api/rooms/nobody/answers HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".utf8
                )
            )
            var sent = 0
            var cut = false
            while sent < 20 && !cut {
                do {
                    try socket.send([UInt8(ascii: "{")])
                    sent += 1
                    usleep(500_000)
                } catch {
                    cut = true
                }
            }
            if !cut { cut = (try? socket.readToEnd()) != nil }
            XCTAssertTrue(cut, "still open after \(sent) bytes of a 100-byte body")
            XCTAssertLessThan(sent, 20)
            XCTAssertGreaterThan(try metric(s, "pollcast_http_requests_aborted_total"), 0)
        }
    }

    /// A length that is not one decimal number, or any Transfer-Encoding, is answered
    /// 400 and the connection closed: the control is not run, and what follows is never
    /// read as a second request.
    func testAmbiguousBodyLengthsAreRefusedAndClosed() throws {
        try withServer { s in
            let token = try s.presenter("kim")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            let smuggled =
                "POST /api/polls/\(poll)/hide HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Length: 0\r\n\r\n"
            for framing in [
                "Content-Length: abc", "Content-Length: 5\r\nContent-Length: 7", "Content-Length: 5, 7",
                "Content-Length: -5", "Content-Length: +5", "Content-Length:", "Content-Length: 0\r\nContent-Length:",
                "Transfer-Encoding: chunked", "Content-Length: 0\r\nTransfer-Encoding: chunked",
            ] {
                let socket = try TestSocket(port: s.port)
                let head =
                    "POST /api/polls/\(poll)/activate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                    + "\(framing)\r\n\r\n"
                try? socket.send(Array((head + smuggled).utf8))
                let reply = String(decoding: (try? socket.readToEnd()) ?? [], as: UTF8.self)
                XCTAssertTrue(reply.hasPrefix("HTTP/1.1 400"), "\(framing): \(reply.prefix(60))")
                XCTAssertEqual(reply.components(separatedBy: "HTTP/1.1 ").count - 1, 1, "one reply: \(framing)")
            }
            let state = try TestHTTP.json(port: s.port, "GET", "/api/polls/\(poll)", token: token).json
            XCTAssertEqual(state["active"] as? Bool, false, "no refused request ran")
            XCTAssertEqual(state["hidden"] as? Bool, false, "no smuggled request ran")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200)
        }
    }

    /// Requests pipelined on one connection: browsers and Twilio never send them, and
    /// lws hands the next one over while the first is being answered, so the connection
    /// is closed. What matters is that nobody else waits: two POSTs sent at once spun
    /// the service thread and stopped the whole server (found by an attack review).
    func testPipelinedRequestsCloseTheConnectionAndStopNobody() throws {
        try withServer { s in
            let token = try s.presenter("kim")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            func answer(_ choice: Int) -> String {
                let body = #"{"participant":"\#(newParticipantID())","poll":"\#(poll)","choices":[\#(choice)]}"#
                return "POST /api/rooms/kim/answers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let form = "POST /sms/twilio HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\nFrom=%2B15550000001&Body=x"
            for pipeline in [
                answer(0) + answer(1), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + answer(1),
                answer(0) + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", form + form, answer(0) + answer(1) + answer(0),
            ] {
                let socket = try TestSocket(port: s.port)
                try socket.send(Array(pipeline.utf8))
                // The connection ends (closed by the server) instead of hanging.
                let replies = String(decoding: try socket.readToEnd(), as: UTF8.self)
                XCTAssertLessThanOrEqual(replies.components(separatedBy: "HTTP/1.1 ").count - 1, 1, replies)
                XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200, "others are served")
            }
            let web = try TestParticipant(port: s.port, room: "kim")
            XCTAssertEqual(try web.choose(poll, [1]).type, "ack", "answers still go through")
        }
    }

    /// Answers over HTTP have the WebSocket's limit, per participant and shared by both
    /// paths; another participant behind the same address is not slowed.
    func testHTTPAnswersAreLimitedPerParticipantNotPerAddress() throws {
        try withServer { s in
            let token = try s.presenter("hal")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let flooder = try TestParticipant(port: s.port, room: "hal")
            for i in 0..<20 { XCTAssertEqual(try flooder.choose(poll, [i % 2]).type, "ack") }
            var limited = 0
            for i in 0..<20 {
                let reply = try TestHTTP.json(
                    port: s.port,
                    "POST",
                    "/api/rooms/hal/answers",
                    ["participant": flooder.id, "poll": poll, "choices": [i % 2]]
                )
                if reply.status == 429 {
                    limited += 1
                    XCTAssertEqual(reply.errorCode, "rate_limited")
                    XCTAssertNotNil(reply.headers["retry-after"])
                }
            }
            XCTAssertGreaterThan(limited, 15, "one budget over both paths")
            XCTAssertGreaterThanOrEqual(
                try metric(s, "pollcast_answers_refused_total"),
                limited,
                "counted like WebSocket's"
            )
            let neighbour = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/rooms/hal/answers",
                ["participant": newParticipantID(), "poll": poll, "choices": [1]]
            )
            XCTAssertEqual(neighbour.status, 200, "same address, another participant")
            let typed = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/rooms/hal/answers",
                ["participant": newParticipantID(), "poll": poll, "choices": [1.5]]
            )
            XCTAssertEqual(typed.status, 400)
            XCTAssertFalse(typed.text.contains("not valid JSON"), typed.text)
        }
    }

    // MARK: Logins

    /// `POST /api/login` as a browser sends it, with its device cookie when it has one.
    private static func login(
        _ s: TestServer,
        _ username: String,
        _ password: String,
        device: String? = nil
    ) throws
        -> TestResponse
    {
        try TestHTTP.json(
            port: s.port,
            "POST",
            "/api/login",
            headers: device.map { ["Cookie": $0] } ?? [:],
            ["username": username, "password": password]
        )
    }

    /// Guesses are counted before hashing; an address spraying other accounts is slowed,
    /// never locked out, and the presenter behind it still logs in; Retry-After is true.
    func testLoginThrottleCannotBeRacedOrTurnedAgainstTheClass() throws {
        try withServer { s in
            try s.server.accounts.createAccount(username: "ida", password: "ida's real password")
            let first = try Self.login(s, "ida", "ida's real password")
            XCTAssertEqual(first.status, 200)
            let device = try XCTUnwrap(
                first.headers["set-cookie"]?.split(separator: "\n").first { $0.hasPrefix("pollcast_device=") }
            )
            let deviceCookie = String(device.split(separator: ";")[0])

            // Someone behind the class's address sprays 45 other accounts.
            var slowed = 0
            for i in 0..<45 {
                let reply = try Self.login(s, "student\(i)", "guess \(i)")
                if reply.status == 429 {
                    slowed += 1
                    XCTAssertLessThanOrEqual(Int(reply.headers["retry-after"] ?? "") ?? 99, 3, "slowed, not locked")
                }
            }
            XCTAssertGreaterThan(slowed, 0, "the address is slowed down")
            // The teacher, from the same address, with the browser she used before.
            let teacher = try Self.login(s, "ida", "ida's real password", device: deviceCookie)
            XCTAssertEqual(teacher.status, 200, teacher.text)
            // From a new browser: at most a short wait.
            var fresh = try Self.login(s, "ida", "ida's real password")
            if fresh.status == 429 {
                sleep(UInt32(fresh.headers["retry-after"] ?? "3") ?? 3)
                fresh = try Self.login(s, "ida", "ida's real password")
            }
            XCTAssertEqual(fresh.status, 200, fresh.text)
        }
    }

    /// Forty parallel guesses at one account reach the hash five times; the refusal
    /// says the real wait; the presenter's own browser still gets in, until a new
    /// password voids its device cookie.
    func testLoginGuessesAreCountedBeforeHashing() throws {
        try withServer { s in
            try s.server.accounts.createAccount(username: "ida", password: "ida's real password")
            let first = try Self.login(s, "ida", "ida's real password")
            let device = try XCTUnwrap(
                first.headers["set-cookie"]?.split(separator: "\n").first { $0.hasPrefix("pollcast_device=") }
            )
            let deviceCookie = String(device.split(separator: ";")[0])
            let statuses = Locked<[Int]>([])
            let retries = Locked<[Int]>([])
            DispatchQueue.concurrentPerform(iterations: 40) { i in
                let reply = try? Self.login(s, "ida", "wrong \(i)")
                statuses.withLock { $0.append(reply?.status ?? 0) }
                if let after = reply?.headers["retry-after"].flatMap({ Int($0) }) {
                    retries.withLock { $0.append(after) }
                }
            }
            let tried = statuses.withLock { $0.filter { $0 == 401 }.count }
            XCTAssertLessThanOrEqual(tried, 5, "guesses reached the hash")
            XCTAssertEqual(statuses.withLock { $0.filter { $0 == 429 }.count }, 40 - tried)
            XCTAssertGreaterThan(retries.withLock { $0.min() ?? 0 }, 600, "Retry-After tells the real wait (15 min)")
            let again = try Self.login(s, "ida", "ida's real password", device: deviceCookie)
            XCTAssertEqual(again.status, 200, "the teacher is never locked out of her own browser: \(again.text)")
            try s.server.accounts.setPassword(username: "ida", password: "ida's next password")
            let voided = try Self.login(s, "ida", "ida's next password", device: deviceCookie)
            XCTAssertEqual(voided.status, 429, "an old device cookie is an ordinary browser again")
            // Names no account can have are not counted (nor kept).
            let odd = try TestHTTP.json(
                port: s.port,
                "POST",
                "/api/login",
                ["username": String(repeating: "X", count: 60_000), "password": "x"]
            )
            XCTAssertEqual(odd.status, 401)
        }
    }

    // MARK: Files

    func testTheStoreIsReadableByItsOwnerOnly() throws {
        let parent = TestServer.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let data = parent + "/data"
        var info = stat()
        do {
            let s = try TestServer(dataDirectory: data)
            defer { s.shutdown() }
            let token = try s.presenter("jan")
            let poll = try s.createPoll(token, ["type": "open", "title": "Q"])
            try s.control(token, poll, "activate")
            _ = try TestParticipant(port: s.port, room: "jan").answer(poll, ["text": "private thought"])
            XCTAssertEqual(stat(data, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o700, "a data folder pollcast made")
            for name in ["pollcast.sqlite", "pollcast.sqlite-wal", "pollcast.sqlite-shm"] {
                XCTAssertEqual(stat(data + "/" + name, &info), 0, name)
                XCTAssertEqual(info.st_mode & 0o777, 0o600, name)
            }
        }
        // A store an older version left readable is narrowed when it opens.
        XCTAssertEqual(chmod(data + "/pollcast.sqlite", 0o644), 0)
        let s = try TestServer(dataDirectory: data)
        defer { s.shutdown() }
        XCTAssertEqual(stat(data + "/pollcast.sqlite", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }
}
