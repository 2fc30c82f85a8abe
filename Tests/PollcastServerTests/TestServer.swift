import Foundation
import Logging
import PollcastServer
import XCTest

/// A real server on 127.0.0.1 and a kernel-chosen port, with its own data folder.
/// Use `withServer`, which always shuts it down. Sendable: every property is a `let`
/// of a Sendable type.
final class TestServer: Sendable {
    let server: PollcastServer
    let port: Int
    let dataDirectory: String

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static func freshDirectory() -> String {
        let dir = NSTemporaryDirectory() + "pollcast-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    init(
        dataDirectory: String = TestServer.freshDirectory(),
        tickMilliseconds: Int = 20,
        configure: (inout ServerConfig) -> Void = { _ in }
    ) throws {
        var config = ServerConfig(dataDirectory: dataDirectory, webRoot: TestServer.repositoryRoot + "/web")
        config.host = "127.0.0.1"
        config.port = 0
        config.tickMilliseconds = tickMilliseconds
        config.passwordIterations = 10_000  // the real 600,000 only where a test is about it
        configure(&config)
        var logger = Logger(label: "pollcast-test")
        logger.logLevel = .warning
        server = try PollcastServer(config: config, logger: logger)
        port = server.port
        self.dataDirectory = dataDirectory
    }

    func shutdown() { server.shutdown() }

    /// A counter or gauge from /metrics; for a labelled family (`name{role="screen"} 2`), the sum of its series.
    func metric(_ name: String) throws -> Int? {
        let text = try TestHTTP.request(port: port, "GET", "/metrics").text
        let values = text.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
        return values.isEmpty ? nil : Int(values.reduce(0, +))
    }

    /// Waits (up to `timeout` seconds) until `condition` holds; a test asserts the result
    /// instead of sleeping and hoping.
    @discardableResult
    func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try condition() { return true }
            if Date() > deadline { return false }
            usleep(5_000)
        }
    }

    /// Starts and stops one server, so that what a process opens once (Dispatch's timer
    /// descriptors, OpenSSL's random source) is open before a test counts descriptors.
    static func warmUp() {
        guard let server = try? TestServer() else { return }
        _ = try? server.presenter("warmup")
        server.shutdown()
        try? FileManager.default.removeItem(atPath: server.dataDirectory)
    }

    /// Creates a presenter and returns a bearer token for it.
    func presenter(_ name: String, password: String = "correct horse battery") throws -> String {
        try server.accounts.createAccount(username: name, password: password)
        return try login(name, password: password)
    }

    /// Logs an existing presenter in and returns a bearer token.
    func login(_ name: String, password: String = "correct horse battery") throws -> String {
        let reply = try TestHTTP.json(port: port, "POST", "/api/login", ["username": name, "password": password])
        guard reply.status == 200, let token = reply.json["token"] as? String else {
            throw TestSocket.Failure(description: "login failed: \(reply.status) \(reply.text)")
        }
        return token
    }

    func createPoll(_ token: String, _ body: [String: Any]) throws -> String {
        let reply = try TestHTTP.json(port: port, "POST", "/api/polls", token: token, body)
        guard reply.status == 201, let id = reply.json["id"] as? String else {
            throw TestSocket.Failure(description: "create failed: \(reply.status) \(reply.text)")
        }
        return id
    }

    @discardableResult
    func control(_ token: String, _ id: String, _ command: String) throws -> TestResponse {
        let reply = try TestHTTP.json(port: port, "POST", "/api/polls/\(id)/\(command)", token: token)
        guard reply.status == 200 else {
            throw TestSocket.Failure(description: "\(command): \(reply.status) \(reply.text)")
        }
        return reply
    }

    func results(_ token: String, _ id: String, round: Int? = nil) throws -> [String: Any] {
        let path = "/api/polls/\(id)/results" + (round.map { "?round=\($0)" } ?? "")
        return try TestHTTP.json(port: port, "GET", path, token: token).json
    }
}

func withServer(
    tickMilliseconds: Int = 20,
    configure: (inout ServerConfig) -> Void = { _ in },
    _ body: (TestServer) throws -> Void
) throws {
    let server = try TestServer(tickMilliseconds: tickMilliseconds, configure: configure)
    defer {
        server.shutdown()
        // Its own fresh folder: nothing of a test is left in the temporary directory.
        try? FileManager.default.removeItem(atPath: server.dataDirectory)
    }
    try body(server)
}

/// A random participant id of 128 bits (32 hex digits), as a real client makes one.
func newParticipantID() -> String {
    (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

/// A participant's connection, greeted: its first `state` frame is in `state`.
final class TestParticipant {
    let socket: TestWebSocket
    let id: String
    private(set) var state: [String: Any] = [:]
    private var nextRef = 1

    init(port: Int, room: String, id: String = newParticipantID(), name: String? = nil) throws {
        socket = try TestWebSocket(port: port, path: "/ws/\(room)?role=participant")
        self.id = id
        var hello: [String: Any] = ["type": "hello", "participant": id]
        if let name { hello["name"] = name }
        try socket.send(json: hello)
        state = try socket.next { $0["type"] as? String == "state" }
    }

    /// Sends an answer and returns the reply to it (an `ack` or an `error`).
    func answer(_ poll: String, _ fields: [String: Any]) throws -> [String: Any] {
        let ref = nextRef
        nextRef += 1
        var frame: [String: Any] = ["type": "answer", "ref": ref, "poll": poll]
        frame.merge(fields) { $1 }
        try socket.send(json: frame)
        return try socket.next { ["ack", "error"].contains($0["type"] as? String) && $0["ref"] as? Int == ref }
    }

    func choose(_ poll: String, _ choices: [Int]) throws -> [String: Any] {
        try answer(poll, ["choices": choices])
    }
}

extension Dictionary where Key == String, Value == Any {
    var type: String? { self["type"] as? String }
    var counts: [Int]? { self["counts"] as? [Int] }
    var errorCode: String? { self["code"] as? String }
}
