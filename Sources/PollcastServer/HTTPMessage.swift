import Foundation
import PollcastCore

/// An HTTP request as the service loop read it; handled off the service thread.
struct HTTPRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    /// Lower-case names: only the headers pollcast reads.
    var headers: [String: String]
    var body: [UInt8]
    var remoteAddress: String
    var exchange: Int
    var secure: Bool

    func header(_ name: String) -> String? { headers[name] }

    /// The value of one cookie.
    func cookie(_ name: String) -> String? {
        guard let header = headers["cookie"] else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmedWhitespace == name { return pair[1].trimmedWhitespace }
        }
        return nil
    }
}

/// An HTTP response; the service loop adds the security headers every response carries.
struct HTTPResponse: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []
    /// Whether other sites may frame this page (only the screen's embed view).
    var frameable = false

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
        return HTTPResponse(status: status, contentType: "application/json", body: body)
    }

    static func error(_ error: PollcastError) -> HTTPResponse {
        struct Body: Encodable {
            struct Inner: Encodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        var response = json(
            Body(error: .init(code: error.code.rawValue, message: error.message)),
            status: error.code.httpStatus
        )
        if error.code == .rateLimited { response.headers.append(("retry-after", "60")) }
        return response
    }

    static let noContent = HTTPResponse(status: 204, contentType: "text/plain", body: [])

    static func redirect(to location: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: 303, contentType: "text/plain", body: [], headers: [("location", location)] + headers)
    }
}

extension HTTPRequest {
    /// Parses `a=1&b=2` with percent-decoding.
    static func parseQuery(_ raw: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in raw.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[0])
            let value =
                kv.count > 1
                ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
            out[key] = value
        }
        return out
    }
}
