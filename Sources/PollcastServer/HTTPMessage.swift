import Foundation
import PollcastApp
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
        headers["cookie"].flatMap { WireDecoding.cookie(name, in: $0) }
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
    /// The error this response carries, if it is one (for the metrics).
    var errorCode: ErrorCode?

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
        if error.code == .rateLimited { response.headers.append(("retry-after", String(error.retryAfter ?? 1))) }
        response.errorCode = error.code
        return response
    }

    static let noContent = HTTPResponse(status: 204, contentType: "text/plain", body: [])

    static func redirect(to location: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: 303, contentType: "text/plain", body: [], headers: [("location", location)] + headers)
    }
}
