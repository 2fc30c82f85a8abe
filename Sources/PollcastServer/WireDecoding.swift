import Foundation
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
            let text = (error as? DecodingError).map(describe) ?? "the frame is not valid JSON"
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
            throw .badRequest(describe(error))
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

    /// A sentence that names the offending field of a JSON document.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)) must be \(type)"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "the body is not valid JSON" : "\(path(context.codingPath)) has an invalid value"
        @unknown default: return "the body is not valid"
        }
    }
}
