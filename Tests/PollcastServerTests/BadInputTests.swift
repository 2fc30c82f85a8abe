import Foundation
import XCTest

/// Bad input gets the contract's error and the server keeps serving everyone else.
final class BadInputTests: XCTestCase {
    func testBadFramesGetErrorsAndTheConnectionSurvives() throws {
        try withServer { s in
            let token = try s.presenter("alice")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b", "c"]])
            try s.control(token, poll, "activate")
            let p = try TestParticipant(port: s.port, room: "alice")
            let cases: [(String, String, Int?)] = [
                ("{not json", "bad_request", nil),
                ("[1,2,3]", "bad_request", nil),
                (#"{"type":"dance","ref":9}"#, "bad_request", 9),
                (#"{"type":"answer","ref":1,"poll":"\#(poll)","choices":[3]}"#, "bad_request", 1),
                (#"{"type":"answer","ref":2,"poll":"\#(poll)","choices":[-1]}"#, "bad_request", 2),
                (#"{"type":"answer","ref":3,"poll":"\#(poll)","choices":[0,1]}"#, "bad_request", 3),
                (#"{"type":"answer","ref":4,"poll":"\#(poll)","choices":[]}"#, "bad_request", 4),
                (#"{"type":"answer","ref":5,"poll":"\#(poll)","choices":"A"}"#, "bad_request", 5),
                (#"{"type":"answer","ref":6,"poll":"\#(poll)","text":"hi"}"#, "bad_request", 6),
                (#"{"type":"answer","ref":7,"poll":"nope","choices":[0]}"#, "not_active", 7),
                (#"{"type":"answer","ref":8,"choices":[0]}"#, "not_active", 8),
                (#"{"type":"answer","ref":"x","poll":"\#(poll)","choices":[0]}"#, "bad_request", nil),
                (#"{"type":"hello","participant":"short"}"#, "bad_request", nil),
            ]
            for (text, code, ref) in cases {
                try p.socket.send(text: text)
                let reply = try p.socket.next { $0.type == "error" }
                XCTAssertEqual(reply.errorCode, code, text)
                XCTAssertEqual(reply["ref"] as? Int, ref, text)
                XCTAssertFalse((reply["message"] as? String ?? "").isEmpty)
            }
            try p.socket.send(opcode: 2, [1, 2, 3])
            XCTAssertEqual(try p.socket.next { $0.type == "error" }.errorCode, "bad_request", "binary frames")
            XCTAssertEqual(try p.choose(poll, [2]).type, "ack", "the connection still works")
            XCTAssertEqual(try s.results(token, poll).counts, [0, 0, 1], "nothing bad was counted")
        }
    }

    func testWeakParticipantIdsAndAnswersBeforeHelloAreRefused() throws {
        try withServer { s in
            let token = try s.presenter("bob")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let socket = try TestWebSocket(port: s.port, path: "/ws/bob")
            try socket.send(json: ["type": "answer", "ref": 1, "poll": poll, "choices": [0]])
            XCTAssertEqual(try socket.next { $0.type == "error" }.errorCode, "bad_request")
            for weak in [
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "0123456789abcdef0123", "0123456789abcdef01234567",
                "has spaces in it and is long enough", String(repeating: "x", count: 65),
            ] {
                try socket.send(json: ["type": "hello", "participant": weak])
                XCTAssertEqual(try socket.next { $0.type == "error" }.errorCode, "bad_request", weak)
            }
            try socket.send(json: ["type": "hello", "participant": "Vq3kR8zLm2Xw9Tb4Yc7Nd1"])  // base64url of 16 bytes
            _ = try socket.next { $0.type == "state" }
            let screen = try TestWebSocket(port: s.port, path: "/ws/bob?role=screen")
            try screen.send(json: ["type": "answer", "ref": 1, "poll": poll, "choices": [0]])
            XCTAssertEqual(try screen.next { $0.type == "error" }.errorCode, "bad_request", "screens do not answer")
            XCTAssertEqual(try s.results(token, poll)["total"] as? Int, 0)
        }
    }

    func testOversizedFramesCloseWith1009AndOthersCarryOn() throws {
        try withServer { s in
            let token = try s.presenter("carol")
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            let bystander = try TestParticipant(port: s.port, room: "carol")
            let big = try TestParticipant(port: s.port, room: "carol")
            try big.socket.send(text: #"{"type":"answer","pad":""# + String(repeating: "x", count: 5000) + #""}"#)
            XCTAssertThrowsError(try big.socket.next { _ in false }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1009)
            }
            // Split into fragments, the message is still too large.
            let fragmented = try TestParticipant(port: s.port, room: "carol")
            try fragmented.socket.send(opcode: 1, Array(repeating: 0x20, count: 3000), final: false)
            try fragmented.socket.send(opcode: 0, Array(repeating: 0x20, count: 3000), final: true)
            XCTAssertThrowsError(try fragmented.socket.next { _ in false }) { error in
                XCTAssertEqual((error as? TestWebSocket.Closed)?.code, 1009)
            }
            // A frame of exactly 4096 bytes is allowed (and is simply bad JSON here).
            try bystander.socket.send(text: String(repeating: " ", count: 4095) + "x")
            XCTAssertEqual(try bystander.socket.next { $0.type == "error" }.errorCode, "bad_request")
            XCTAssertEqual(try bystander.choose(poll, [1]).type, "ack")
        }
    }

    func testBadHTTPBodiesGetClearErrors() throws {
        try withServer { s in
            let token = try s.presenter("dave")
            let auth = ["Authorization": "Bearer \(token)"]
            func post(_ path: String, _ raw: String, method: String = "POST") throws -> TestResponse {
                try TestHTTP.request(port: s.port, method, path, headers: auth, body: Array(raw.utf8))
            }
            let cases: [(String, Int, String)] = [
                ("{", 400, "bad_request"),
                ("[]", 400, "bad_request"),
                (#"{"type":"poll","title":"x","options":["a","b"]}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"x","options":["a"]}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"","options":["a","b"]}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"x","options":["a",""]}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"x","options":["a","b"],"settings":{"maxChoices":3}}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"x","options":["a","b"],"settings":{"correct":[5]}}"#, 400, "bad_request"),
                (
                    #"{"type":"choice","title":"x","options":["a","b"],"settings":{"chart":"radar"}}"#, 400,
                    "bad_request"
                ),
                (#"{"type":"choice","title":17,"options":["a","b"]}"#, 400, "bad_request"),
                (#"{"type":"choice","title":"x","options":"a,b"}"#, 400, "bad_request"),
                (
                    #"{"type":"choice","title":"x","options":["a","b"],"settings":{"allowChange":"yes"}}"#, 400,
                    "bad_request"
                ),
            ]
            for (body, status, code) in cases {
                let reply = try post("/api/polls", body)
                XCTAssertEqual(reply.status, status, body)
                XCTAssertEqual(reply.errorCode, code, body)
            }
            XCTAssertEqual(try TestHTTP.json(port: s.port, "GET", "/api/polls", token: token).jsonArray.count, 0)
            let tooBig = try post("/api/polls", "{\"title\":\"" + String(repeating: "x", count: 70_000) + "\"}")
            XCTAssertEqual(tooBig.status, 413)
            XCTAssertEqual(tooBig.errorCode, "too_large")
            XCTAssertEqual(try post("/api/polls/nope/explode", "{}").status, 404)
            XCTAssertEqual(try post("/api/rooms/dave/answers", #"{"participant":"x"}"#).status, 400)
            XCTAssertEqual(try post("/api/rooms/dave/answers", "{").status, 400)
            XCTAssertEqual(
                try TestHTTP.request(port: s.port, "GET", "/api/polls/x/results?round=0", headers: auth).status,
                400
            )
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/../../etc/passwd").status, 404)
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/static/..%2f..%2fPackage.swift").status, 404)

            // Editing keeps the rules: options of a round with answers stay put.
            let poll = try s.createPoll(token, ["type": "choice", "title": "Q", "options": ["a", "b"]])
            try s.control(token, poll, "activate")
            XCTAssertEqual(try TestParticipant(port: s.port, room: "dave").choose(poll, [0]).type, "ack")
            XCTAssertEqual(try post("/api/polls/\(poll)", #"{"options":["a","b","c"]}"#, method: "PATCH").status, 409)
            let renamed = try post("/api/polls/\(poll)", #"{"title":"Renamed"}"#, method: "PATCH")
            XCTAssertEqual(renamed.json["title"] as? String, "Renamed")
            XCTAssertEqual(try TestHTTP.request(port: s.port, "GET", "/healthz").status, 200, "still serving")
        }
    }
}
