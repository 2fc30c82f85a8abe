/// Every error code pollcast puts on the wire, HTTP or WebSocket, comes from this one enum.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case badRequest = "bad_request"
    case unauthenticated
    case forbidden
    case notFound = "not_found"
    case conflict
    case tooLarge = "too_large"
    case rateLimited = "rate_limited"
    case notActive = "not_active"
    case locked
    case alreadyAnswered = "already_answered"
    /// The store could not make an answer durable; the client may retry.
    case unavailable

    /// The HTTP status that carries this code.
    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict, .notActive, .locked, .alreadyAnswered: 409
        case .tooLarge: 413
        case .rateLimited: 429
        case .unavailable: 503
        }
    }
}

/// The error type of the domain: a wire code and a sentence a person can act on.
public struct PollcastError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// For `rate_limited`: seconds until a retry can succeed (HTTP's Retry-After).
    public var retryAfter: Int?

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func badRequest(_ message: String) -> PollcastError { PollcastError(.badRequest, message) }

    public var description: String { "\(code.rawValue): \(message)" }
}
