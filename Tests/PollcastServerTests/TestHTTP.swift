import Foundation

/// A reply as the test HTTP client read it.
struct TestResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    var jsonArray: [[String: Any]] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [[String: Any]] ?? [] }
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

/// A one-request HTTP/1.1 client over a raw socket (`Connection: close`).
enum TestHTTP {
    static func request(
        port: Int,
        _ method: String,
        _ path: String,
        headers: [String: String] = [:],
        body: [UInt8]? = nil,
        contentType: String = "application/json"
    ) throws -> TestResponse {
        let socket = try TestSocket(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nConnection: close\r\n"
        if headers["Host"] == nil { head += "Host: 127.0.0.1:\(port)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body {
            head += "Content-Length: \(body.count)\r\nContent-Type: \(contentType)\r\n"
        } else if method != "GET" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        try socket.send(Array(head.utf8) + (body ?? []))
        let raw = try socket.readToEnd()
        guard let split = raw.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw TestSocket.Failure(description: "no HTTP reply to \(method) \(path)")
        }
        let lines = String(decoding: raw[0..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var parsed: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            parsed[name] = parsed[name].map { $0 + "\n" + value } ?? value
        }
        return TestResponse(status: status, headers: parsed, body: Array(raw[split.upperBound...]))
    }

    static func json(
        port: Int,
        _ method: String,
        _ path: String,
        token: String? = nil,
        headers: [String: String] = [:],
        _ object: Any? = nil
    ) throws -> TestResponse {
        var headers = headers
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let body = try object.map { try Array(JSONSerialization.data(withJSONObject: $0)) }
        return try request(port: port, method, path, headers: headers, body: body)
    }
}

/// A WebSocket client speaking RFC 6455 over a raw socket, masking what it sends.
final class TestWebSocket {
    struct Closed: Error {
        var code: Int?
    }

    private let socket: TestSocket
    private(set) var closeCode: Int?

    init(
        port: Int,
        path: String,
        headers: [String: String] = [:],
        subprotocol: String? = "pollcast.v1",
        receiveBuffer: Int32? = nil
    ) throws {
        socket = try TestSocket(port: port, receiveBuffer: receiveBuffer)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var head =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let subprotocol { head += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        try socket.send(Array((head + "\r\n").utf8))
        let reply = String(decoding: try socket.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self)
        guard reply.hasPrefix("HTTP/1.1 101") else {
            throw TestSocket.Failure(description: "no upgrade: \(reply.split(separator: "\r\n").first ?? "")")
        }
    }

    func send(text: String) throws { try send(opcode: 1, Array(text.utf8)) }

    func send(json: [String: Any]) throws {
        try send(opcode: 1, Array(JSONSerialization.data(withJSONObject: json)))
    }

    /// Bytes as they are, for a flood of prepared frames (see `frame`).
    func sendRaw(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    /// A masked client frame with an all-zero mask (legal, and the payload stays as it is),
    /// so one frame can be built once and sent many times.
    static func frame(opcode: UInt8 = 1, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        return frame + [0, 0, 0, 0] + payload
    }

    func send(opcode: UInt8, _ payload: [UInt8], final: Bool = true) throws {
        var frame: [UInt8] = [(final ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try socket.send(frame)
    }

    /// The next text frame's payload; answers pings; throws `Closed` on a close frame.
    /// The timeout holds for the whole call, pings or not.
    func receive(timeout: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestSocket.Failure(description: "timed out") }
            socket.setTimeout(left)
            let head = try socket.read(count: 2)
            let opcode = head[0] & 0x0f
            var length = Int(head[1] & 0x7f)
            if length == 126 {
                let b = try socket.read(count: 2)
                length = Int(b[0]) << 8 | Int(b[1])
            } else if length == 127 {
                length = try socket.read(count: 8).reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try socket.read(count: length)
            switch opcode {
            case 1: return String(decoding: payload, as: UTF8.self)
            case 8:
                closeCode = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
                throw Closed(code: closeCode)
            case 9: try send(opcode: 10, payload)
            default: continue
            }
        }
    }

    func receiveJSON(timeout: Double = 10) throws -> [String: Any] {
        let text = try receive(timeout: timeout)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestSocket.Failure(description: "not a JSON object: \(text)")
        }
        return object
    }

    /// Skips frames until one matches; every skipped frame is passed to `seen`.
    func next(
        timeout: Double = 10,
        seen: ([String: Any]) -> Void = { _ in },
        where match: ([String: Any]) -> Bool
    ) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestSocket.Failure(description: "no matching frame within \(timeout) s") }
            let frame = try receiveJSON(timeout: left)
            if match(frame) { return frame }
            seen(frame)
        }
    }

    /// Every frame that arrives within `seconds`.
    func drain(for seconds: Double) -> [[String: Any]] {
        var frames: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(seconds)
        while deadline.timeIntervalSinceNow > 0 {
            guard let frame = try? receiveJSON(timeout: max(deadline.timeIntervalSinceNow, 0.01)) else { break }
            frames.append(frame)
        }
        return frames
    }
}
