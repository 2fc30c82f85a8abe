import Foundation
import PollcastCore
import PollcastServer
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Limits and abuse: each answers with the contract's error and leaves everyone else served.
final class HardeningTests: XCTestCase {
    func testSilentConnectionsAreClosedAndTheCapHolds() throws {
        let limits: (inout ServerConfig) -> Void = {
            $0.helloTimeoutSeconds = 1
            $0.maxConnections = 3
        }
        try withServer(configure: limits) { s in
            _ = try s.presenter("alice")
            let talker = try TestParticipant(port: s.port, room: "alice")
            let silent = try TestWebSocket(port: s.port, path: "/ws/alice")
            let screen = try TestWebSocket(port: s.port, path: "/ws/alice?role=screen")
            XCTAssertThrowsError(try TestWebSocket(port: s.port, path: "/ws/alice"), "a fourth connection is refused")
            XCTAssertThrowsError(try silent.next(timeout: 5) { _ in false }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1008, "closed for never saying hello")
            }
            // The slot it held is free again; the others were left alone.
            XCTAssertTrue(s.eventually { (try? TestParticipant(port: s.port, room: "alice")) != nil })
            XCTAssertEqual(talker.socket.drain(for: 0.1).count, 0)
            try screen.send(json: ["type": "hello"])
            // Whatever the hello caused would come before the state frame of a change made after it.
            let token = try s.login("alice")
            try s.control(token, try s.createPoll(token, ["type": "open", "title": "Q"]), "activate")
            var before: [[String: Any]] = []
            _ = try screen.next(seen: { before.append($0) }) { $0.type == "state" }
            XCTAssertFalse(before.contains { $0.type == "error" }, "a screen's hello is ignored: \(before)")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200)
            let metrics = try TestHTTP.request(port: s.port, "GET", "/metrics").text
            XCTAssertTrue(metrics.contains("pollcast_connections_refused_total 1"), metrics)
        }
    }

    func testAFloodingConnectionIsLimitedAndOthersAreNot() throws {
        try withServer { s in
            let token = try s.presenter("bob")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let flooder = try TestParticipant(port: s.port, room: "bob")
            let started = Date()
            for ref in 1...60 {
                try flooder.socket.send(json: ["type": "answer", "ref": ref, "poll": poll, "choices": [ref % 2]])
            }
            var acks = 0
            var limited = 0
            while acks + limited < 60 {
                let frame = try flooder.socket.next { ["ack", "error"].contains($0.type) }
                if frame.type == "ack" { acks += 1 }
                if frame.errorCode == "rate_limited" { limited += 1 }
            }
            XCTAssertGreaterThan(limited, 0, "a flood is limited")
            // The burst (20) plus what refilled (10/s) while the flood went on, however slow the machine.
            let refilled = Int((Date().timeIntervalSince(started) * 10).rounded(.up))
            XCTAssertLessThanOrEqual(acks, 20 + refilled, "at most the burst plus what refilled")
            let bystander = try TestParticipant(port: s.port, room: "bob")
            XCTAssertEqual(try bystander.choose(poll, [1]).type, "ack", "others are not slowed")
            sleep(1)
            XCTAssertEqual(try flooder.choose(poll, [0]).type, "ack", "the flooder's connection stays open")
            XCTAssertEqual(try s.results(token, poll)["total"] as? Int, 2, "one answer each, however many were sent")
        }
    }

    func testParticipantsCannotActAsOthersOrSeeTheirIds() throws {
        try withServer { s in
            let token = try s.presenter("carol")
            let poll = try s.createPoll(
                token,
                [
                    "type": "choice", "title": "Q", "options": ["a", "b"],
                    "settings": ["showResultsToParticipants": true],
                ]
            )
            try s.control(token, poll, "activate")
            let screen = try TestWebSocket(port: s.port, path: "/ws/carol?role=screen")
            let console = try TestWebSocket(port: s.port, path: "/ws/carol?role=console&token=\(token)")
            let victim = try TestParticipant(port: s.port, room: "carol")
            XCTAssertEqual(try victim.choose(poll, [0]).type, "ack")
            let attacker = try TestParticipant(port: s.port, room: "carol")
            try attacker.socket.send(json: ["type": "hello", "participant": victim.id])
            XCTAssertEqual(try attacker.socket.next { $0.type == "error" }.errorCode, "bad_request")
            XCTAssertEqual(try attacker.choose(poll, [1]).type, "ack")
            XCTAssertEqual(try s.results(token, poll).counts, [1, 1], "the victim's answer stands")
            var seen = ""
            for socket in [screen, console, attacker.socket] {
                for frame in socket.drain(for: 0.3) {
                    seen += String(decoding: try JSONSerialization.data(withJSONObject: frame), as: UTF8.self)
                }
            }
            XCTAssertTrue(seen.contains("\"counts\""), "frames were seen")
            XCTAssertFalse(seen.contains(victim.id), "no participant id reaches another client")
            XCTAssertFalse(seen.contains(attacker.id))
        }
    }

    func testOversizedHeadersDoNotHurtTheServer() throws {
        try withServer { s in
            let socket = try TestSocket(port: s.port)
            let huge = String(repeating: "a", count: 20_000)
            try socket.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(huge)\r\nCookie: \(huge)\r\n\r\n".utf8))
            let reply = String(decoding: (try? socket.readToEnd()) ?? [], as: UTF8.self)
            XCTAssertFalse(reply.hasPrefix("HTTP/1.1 200"), "a 40 KB header block is refused: \(reply.prefix(40))")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200)
        }
    }

    /// The disk fills up under the store: answers that cannot be committed get
    /// `unavailable`, never an ack, the server keeps serving, and once space is back
    /// answers are acked again, by themselves, with nothing lost.
    func testDiskFullRefusesAnswersAndRecovers() throws {
        let mountPoint = NSTemporaryDirectory() + "pollcast-tiny-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = Process()
        mounted.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounted.arguments = ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]
        try mounted.run()
        mounted.waitUntilExit()
        guard mounted.terminationStatus == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): the disk-full test did not run")
        }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = ["-l", mountPoint]
            try? umount.run()
            umount.waitUntilExit()
        }
        let server = try TestServer(dataDirectory: mountPoint + "/data")
        defer { server.shutdown() }
        let token = try server.presenter("dora")
        let poll = try server.createPoll(token, ["type": "open", "title": "Say something"])
        try server.control(token, poll, "activate")
        let other = try server.login("dora")  // a second session, ended while the disk is full

        // Fill what is left of the disk.
        let filler = mountPoint + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        let block = Data(repeating: 0x55, count: 64 * 1024)
        while (try? handle.write(contentsOf: block)) != nil {}
        try? handle.close()

        var acked: [String] = []
        var refused = 0
        for i in 0..<400 where refused < 5 {
            let p = try TestParticipant(port: server.port, room: "dora")
            let text = "answer \(i) " + String(repeating: "x", count: 200)
            let reply = try p.answer(poll, ["text": text])
            if reply.type == "ack" {
                acked.append(text)
            } else {
                XCTAssertEqual(reply.errorCode, "unavailable", "\(reply)")
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 0, "a full disk refuses answers")
        XCTAssertEqual(try TestHTTP.request(port: server.port, "GET", "/healthz").status, 200, "still serving")
        let during = try server.results(token, poll)
        XCTAssertEqual(during["total"] as? Int, acked.count, "refused answers are not counted")

        // Logging out while the store cannot write: either the session ended (204, and the
        // token is dead) or the server says it could not (503), and then the token still
        // works; never "logged out" while the token lives on in the store.
        let logout = try TestHTTP.json(port: server.port, "POST", "/api/logout", token: other)
        let me = try TestHTTP.json(port: server.port, "GET", "/api/me", token: other).status
        if logout.status == 204 {
            XCTAssertEqual(me, 401, "logged out means the token is dead")
        } else {
            XCTAssertEqual(logout.status, 503, logout.text)
            XCTAssertEqual(logout.errorCode, "unavailable")
            XCTAssertEqual(me, 200, "a logout that failed left the session whole")
        }

        // Space comes back: answers are acked again without a restart.
        try FileManager.default.removeItem(atPath: filler)
        let p = try TestParticipant(port: server.port, room: "dora")
        var recovered = try p.answer(poll, ["text": "after the disk recovered"])
        for _ in 0..<20 where recovered.type != "ack" {
            usleep(100_000)
            recovered = try p.answer(poll, ["text": "after the disk recovered"])
        }
        XCTAssertEqual(recovered.type, "ack")
        let after = try server.results(token, poll)
        let responses = after["responses"] as? [String] ?? []
        for text in acked { XCTAssertTrue(responses.contains(text), "acked answer lost: \(text.prefix(12))") }
        XCTAssertTrue(responses.contains("after the disk recovered"))
        if logout.status != 204 {
            XCTAssertEqual(try TestHTTP.json(port: server.port, "POST", "/api/logout", token: other).status, 204)
            XCTAssertEqual(try TestHTTP.json(port: server.port, "GET", "/api/me", token: other).status, 401)
        }
    }
}
