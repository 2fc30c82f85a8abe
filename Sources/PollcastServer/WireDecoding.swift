import Foundation
import PollcastApp
import PollcastCore

/// Every byte a client sends is decoded here: WebSocket frames and HTTP bodies.
/// Pure functions with no lws or store in reach, so the fuzzer (`Fuzz/`) drives
/// exactly the code the server runs.
public enum WireDecoding {
    /// A client's WebSocket message, or the error frame to answer it with (keeping
    /// the message's `ref` when one can be read).
    public static func clientFrame(_ bytes: [UInt8]) -> Result<ClientFrame, ErrorFrame> {
        do {
            return .success(try JSONDecoder().decode(ClientFrame.self, from: Data(bytes)))
        } catch {
            let ref = (try? JSONDecoder().decode(RefOnly.self, from: Data(bytes)))?.ref
            let text = (error as? DecodingError).map { describe($0, bytes) } ?? "the frame is not valid JSON"
            return .failure(ErrorFrame(ref: ref, error: .badRequest(text)))
        }
    }

    private struct RefOnly: Decodable { var ref: Int? }

    /// A JSON request body as `T`, or `bad_request` naming what is wrong.
    public static func body<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(PollcastError) -> T {
        guard !bytes.isEmpty else { throw .badRequest("the request needs a JSON body") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .badRequest(describe(error, bytes))
        } catch {
            throw .badRequest("the body is not valid JSON")
        }
    }

    /// The value of one cookie in a `Cookie` header.
    public static func cookie(_ name: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmedWhitespace == name { return pair[1].trimmedWhitespace }
        }
        return nil
    }

    /// Whether a browser's `Origin` names the site the request was sent to (`Host`).
    public static func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, !host.isEmpty else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// The client's address behind a trusted reverse proxy: the last entry of
    /// `X-Forwarded-For` (the address the proxy itself saw; earlier entries are whatever
    /// the client claimed) when `peer` is one of `trusted`, else `peer`. An entry that is
    /// not an IP address is ignored.
    public static func clientAddress(peer: String, forwardedFor: String?, trusted: [ProxyRange]) -> String {
        guard let forwardedFor, trusted.contains(where: { $0.contains(peer) }),
            let last = forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
            ProxyRange.isAddress(last)
        else { return peer }
        return last
    }

    /// Whether an address is this machine's (127.0.0.0/8, ::1, or IPv4-mapped loopback).
    public static func isLoopback(_ address: String) -> Bool {
        address == "::1" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.")
    }

    /// The key per-address limits count under: an IPv4 address as it is (also when
    /// written as IPv4-mapped IPv6), an IPv6 address by its /64 (one host usually holds
    /// a whole /64, so counting single addresses would let it rotate past any limit).
    public static func addressKey(_ address: String) -> String {
        var v6 = in6_addr()
        guard address.contains(":"), inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 8, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":") + "::/64"
    }

    /// The length of a request's body from its framing headers (RFC 9112 section 6):
    /// nil when there is none. A length that is not a plain decimal number, several
    /// different lengths, or any Transfer-Encoding (pollcast takes no chunked bodies)
    /// is an error: answered 400 and closed, so a body can never be read as the next
    /// request (request smuggling behind a lenient proxy).
    public static func bodyLength(
        contentLength: [String],
        transferEncoding: String?
    ) -> Result<Int?, PollcastError> {
        if transferEncoding != nil {
            return .failure(.badRequest("Transfer-Encoding is not accepted; send Content-Length"))
        }
        // Repeated headers may also arrive folded into one list ("5, 5").
        let values = contentLength.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: [" ", "\t"]) }
        guard let first = values.first else { return .success(nil) }
        guard values.allSatisfy({ $0 == first }), (1...15).contains(first.utf8.count),
            first.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let length = Int(first)
        else { return .failure(.badRequest("Content-Length must be one decimal number")) }
        return .success(length)
    }

    /// The `Host` header as a host name or address with an optional port, or nil when
    /// it is anything else: it is put into join addresses and QR codes.
    public static func host(_ header: String?) -> String? {
        guard let header, (1...255).contains(header.utf8.count) else { return nil }
        var name = Substring(header)
        var port: Substring?
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return nil }
            let inside = name[name.index(after: name.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            let rest = name[name.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
            name = name[...close]
        } else {
            if let colon = name.lastIndex(of: ":") {
                port = name[name.index(after: colon)...]
                name = name[..<colon]
            }
            guard !name.isEmpty,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
            else { return nil }
        }
        if let port {
            guard (1...5).contains(port.count), port.allSatisfy({ $0.isASCII && $0.isNumber }),
                let n = Int(port), (1...65535).contains(n)
            else { return nil }
        }
        return header.lowercased()
    }

    /// A JSON kind in words, never a Swift type name.
    private static func kind(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Dictionary") { return "a JSON object" }
        if name.hasPrefix("Array") { return "a list" }
        if name.hasPrefix("String") { return "text" }
        if name.hasPrefix("Bool") { return "true or false" }
        if name.hasPrefix("Int") || name.hasPrefix("UInt") { return "a whole number" }
        if name.hasPrefix("Double") || name.hasPrefix("Float") { return "a number" }
        return "of another kind"
    }

    /// A sentence that names the offending field of a JSON document.
    static func describe(_ error: DecodingError, _ bytes: [UInt8]) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context):
            let what = path(context.codingPath)
            return "\(what.isEmpty ? "the body" : what) must be \(kind(type))"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .dataCorrupted(let context):
            if !context.codingPath.isEmpty { return "\(path(context.codingPath)) has an invalid value" }
            // Foundation reports a number that does not fit its field (1.5 where a whole
            // number goes) as invalid JSON, without a path: tell the two apart.
            if (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil {
                return "a value has the wrong form: choices, ref and indexes are whole numbers"
            }
            return "the body is not valid JSON"
        @unknown default: return "the body is not valid"
        }
    }
}
