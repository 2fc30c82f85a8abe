import CLibWebSockets
import Foundation
import PollcastApp
import PollcastCore

/// One HTTP connection: its current request and response, and the budget of requests
/// it may make (keep-alive reuses it). Service thread only.
final class HTTPExchange {
    let id: Int
    let wsi: OpaquePointer
    /// Requests on this connection take from it, like frames on a WebSocket.
    var budget: TokenBucket
    /// When the body being read must be complete (service-loop clock, seconds).
    var bodyDeadline: Double = 0
    var request: HTTPRequest?
    var bodyTooLarge = false
    /// Close instead of keeping alive: a body was left unread, or lws cannot tell
    /// where the next request starts (a POST without Content-Length).
    var closeAfterResponse = false
    var response: HTTPResponse?
    /// A HEAD request: answered as its GET, with the headers only.
    var headOnly = false
    var headersSent = false
    /// A request of this connection is being answered (dispatched, or its error set).
    var inFlight = false
    /// lws still owes the body completion of a request with an empty body (it sends one
    /// even for `Content-Length: 0`).
    var emptyBodyCompletionDue = false
    var offset = 0

    init(id: Int, wsi: OpaquePointer, budget: TokenBucket) {
        self.id = id
        self.wsi = wsi
        self.budget = budget
    }
}

extension ServiceLoop {
    private static let methods: [(lws_token_indexes, String)] = [
        (WSI_TOKEN_GET_URI, "GET"), (WSI_TOKEN_POST_URI, "POST"), (WSI_TOKEN_PATCH_URI, "PATCH"),
        (WSI_TOKEN_PUT_URI, "PUT"), (WSI_TOKEN_DELETE_URI, "DELETE"), (WSI_TOKEN_HEAD_URI, "HEAD"),
        (WSI_TOKEN_OPTIONS_URI, "OPTIONS"),
    ]

    /// HTTP callbacks. Runs on the service thread.
    func http(
        _ wsi: OpaquePointer,
        _ reason: lws_callback_reasons,
        _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?,
        _ length: Int
    ) -> Int32 {
        assertOnServiceThread()
        switch reason {
        case LWS_CALLBACK_HTTP:
            var id = slotID(user)
            if id == 0 { id = assignSlot(user) }
            // A request pipelined behind one still being answered: lws hands it over in
            // the middle of the first one's transaction (with a body, it re-fed it on
            // every turn of the loop: one connection sending two POSTs at once spun the
            // service thread and stopped the server). Browsers and Twilio never pipeline;
            // such a connection is closed.
            if exchanges[id]?.inFlight == true {
                metrics.add(metrics.requestsAborted)
                return -1
            }
            let exchange =
                exchanges[id]
                ?? HTTPExchange(
                    id: id,
                    wsi: wsi,
                    budget: TokenBucket(rate: config.framesPerSecond, burst: config.frameBurst, now: now())
                )
            exchanges[id] = exchange
            let path =
                input.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? "/"
            guard let method = Self.methods.first(where: { lws_hdr_total_length(wsi, $0.0) > 0 })?.1 else {
                exchange.closeAfterResponse = true
                return respondNow(exchange, .error(.badRequest("unsupported method")))
            }
            // Set first, so that the error replies below are headers-only for HEAD too.
            exchange.headOnly = method == "HEAD"
            // How long the body is decides where the next request starts: anything unclear
            // is refused and the connection closed, never guessed.
            let framing = WireDecoding.bodyLength(
                contentLength: headerFragments(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH),
                transferEncoding: header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)
            )
            let declared: Int?
            switch framing {
            case .success(let length): declared = length
            case .failure(let error):
                metrics.add(metrics.requestsAborted)
                exchange.closeAfterResponse = true
                return respondNow(exchange, .error(error))
            }
            guard exchange.budget.take(now: now()) else {
                metrics.add(metrics.framesRefused)
                exchange.closeAfterResponse = true
                return respondNow(exchange, .error(PollcastError(.rateLimited, "too many requests; slow down")))
            }
            let request = HTTPRequest(
                method: method == "HEAD" ? "GET" : method,
                path: path,
                query: queryArguments(wsi),
                headers: headers(wsi),
                body: [],
                remoteAddress: peerAddress(wsi),
                exchange: id,
                secure: config.tlsCertificate != nil || forwardedOverTLS(wsi)
            )
            if draining {
                exchange.closeAfterResponse = true
                return respondNow(exchange, .error(PollcastError(.unavailable, "the server is shutting down")))
            }
            let takesBody = ["POST", "PATCH", "PUT", "DELETE"].contains(method)
            exchange.closeAfterResponse = takesBody && declared == nil
            if let declared, declared > config.maxBodyBytes {
                exchange.bodyTooLarge = true
                exchange.closeAfterResponse = true
                return respondNow(
                    exchange,
                    .error(PollcastError(.tooLarge, "the body may be at most \(config.maxBodyBytes) bytes"))
                )
            }
            if let declared, declared > 0, takesBody {
                exchange.request = request  // the body follows, and must arrive in time
                exchange.bodyDeadline = now() + config.bodyTimeoutSeconds
            } else {
                exchange.inFlight = true
                exchange.emptyBodyCompletionDue = takesBody
                dispatch(request)
            }
            return 0
        case LWS_CALLBACK_HTTP_BODY:
            guard let exchange = exchanges[slotID(user)], var request = exchange.request, let input else { return 0 }
            // lws restarts its own timeout with every chunk, so a body sent a byte at a
            // time would never end: the whole body gets `bodyTimeoutSeconds`.
            if now() > exchange.bodyDeadline {
                metrics.add(metrics.requestsAborted)
                return -1
            }
            if request.body.count + length > config.maxBodyBytes {
                exchange.bodyTooLarge = true
                exchange.closeAfterResponse = true
                return 0
            }
            // Taken out and put back, so the body is appended to in place (no copy).
            exchange.request = nil
            request.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
            exchange.request = request
            return 0
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            // A completion without a body being read is lws offering bytes that came after
            // this request (a pipelined one) while it is being answered: close, as above.
            guard let exchange = exchanges[slotID(user)] else { return -1 }
            guard let request = exchange.request else {
                if exchange.emptyBodyCompletionDue {
                    exchange.emptyBodyCompletionDue = false
                    return 0
                }
                // An error found while reading is on its way, and the connection closes after it.
                if exchange.response != nil && exchange.closeAfterResponse { return 0 }
                metrics.add(metrics.requestsAborted)
                return -1
            }
            exchange.request = nil
            if exchange.bodyTooLarge {
                return respondNow(
                    exchange,
                    .error(PollcastError(.tooLarge, "the body may be at most \(config.maxBodyBytes) bytes"))
                )
            }
            exchange.inFlight = true
            dispatch(request)
            return 0
        case LWS_CALLBACK_HTTP_WRITEABLE:
            guard let exchange = exchanges[slotID(user)] else { return 0 }
            return writeResponse(exchange)
        case LWS_CALLBACK_CLOSED_HTTP:
            exchanges[slotID(user)] = nil
            return 0
        default:
            return 0
        }
    }

    /// Sets a response made on the service thread itself (errors found while reading).
    private func respondNow(_ exchange: HTTPExchange, _ response: HTTPResponse) -> Int32 {
        exchange.inFlight = true
        exchange.response = response
        lws_callback_on_writable(exchange.wsi)
        return 0
    }

    /// One write per callback: the headers first, then the body in chunks.
    private func writeResponse(_ exchange: HTTPExchange) -> Int32 {
        guard let response = exchange.response else { return 0 }
        let pre = Int(pollcast_lws_pre)
        let start = sendBuffer + pre
        if !exchange.headersSent {
            var p: UnsafeMutablePointer<UInt8>? = start
            let end = start + Self.sendChunk
            let contentLength = UInt64(response.body.count)
            guard
                lws_add_http_common_headers(
                    exchange.wsi,
                    UInt32(response.status),
                    response.contentType,
                    contentLength,
                    &p,
                    end
                )
                    == 0
            else { return -1 }
            for (name, value) in securityHeaders(for: response) + response.headers {
                let rc = (name + ":").withCString { n in
                    n.withMemoryRebound(to: UInt8.self, capacity: name.utf8.count + 1) { n in
                        lws_add_http_header_by_name(exchange.wsi, n, value, Int32(value.utf8.count), &p, end)
                    }
                }
                guard rc == 0 else { return -1 }
            }
            guard lws_finalize_write_http_header(exchange.wsi, start, &p, end) == 0 else { return -1 }
            exchange.headersSent = true
            if response.body.isEmpty || exchange.headOnly { return finish(exchange) }
            lws_callback_on_writable(exchange.wsi)
            return 0
        }
        let remaining = response.body.count - exchange.offset
        let count = min(remaining, Self.sendChunk)
        response.body.withUnsafeBufferPointer { body in
            (start).update(from: body.baseAddress! + exchange.offset, count: count)
        }
        let last = count == remaining
        let written = lws_write(exchange.wsi, start, count, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        guard written >= 0 else { return -1 }
        exchange.offset += count
        if last { return finish(exchange) }
        lws_callback_on_writable(exchange.wsi)
        return 0
    }

    /// Ends the transaction: keep-alive for the next request, or close.
    private func finish(_ exchange: HTTPExchange) -> Int32 {
        let close = exchange.closeAfterResponse
        exchange.response = nil
        exchange.headersSent = false
        exchange.offset = 0
        exchange.bodyTooLarge = false
        exchange.closeAfterResponse = false
        exchange.headOnly = false
        exchange.inFlight = false
        exchange.emptyBodyCompletionDue = false
        if close { return -1 }
        return lws_http_transaction_completed(exchange.wsi) != 0 ? -1 : 0
    }

    private func securityHeaders(for response: HTTPResponse) -> [(String, String)] {
        var headers: [(String, String)] = [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer")]
        if response.contentType.hasPrefix("text/html") {
            let ancestors = response.frameable ? "*" : "'none'"
            headers.append(
                (
                    "content-security-policy",
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                        + "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors \(ancestors)"
                )
            )
            if !response.frameable { headers.append(("x-frame-options", "DENY")) }
        }
        if response.contentType.hasPrefix("application/json") || response.contentType.hasPrefix("text/csv") {
            headers.append(("cache-control", "no-store"))
        }
        return headers
    }

    // MARK: Reading a request

    func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let length = Int(lws_hdr_total_length(wsi, token))
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard lws_hdr_copy(wsi, &buffer, Int32(length + 1), token) >= 0 else { return nil }
        return Self.string(buffer)
    }

    /// Every occurrence of a header, empty ones included (lws keeps a repeated header
    /// as fragments; copying a fragment that does not exist fails).
    func headerFragments(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> [String] {
        var values: [String] = []
        for index in Int32(0)..<64 {
            let length = Int(lws_hdr_fragment_length(wsi, token, index))
            var buffer = [CChar](repeating: 0, count: length + 1)
            guard lws_hdr_copy_fragment(wsi, &buffer, Int32(length + 1), token, index) >= 0 else { break }
            values.append(Self.string(buffer))
        }
        return values
    }

    func customHeader(_ wsi: OpaquePointer, _ name: String) -> String? {
        let key = name + ":"
        let length = Int(lws_hdr_custom_length(wsi, key, Int32(key.utf8.count)))
        guard length > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard lws_hdr_custom_copy(wsi, &buffer, Int32(length + 1), key, Int32(key.utf8.count)) >= 0 else { return nil }
        return Self.string(buffer)
    }

    func headers(_ wsi: OpaquePointer) -> [String: String] {
        var headers: [String: String] = [:]
        let wanted: [(String, lws_token_indexes)] = [
            ("cookie", WSI_TOKEN_HTTP_COOKIE), ("authorization", WSI_TOKEN_HTTP_AUTHORIZATION),
            ("origin", WSI_TOKEN_ORIGIN), ("host", WSI_TOKEN_HOST), ("content-type", WSI_TOKEN_HTTP_CONTENT_TYPE),
        ]
        for (name, token) in wanted { headers[name] = header(wsi, token) }
        headers["x-csrf-token"] = customHeader(wsi, "x-csrf-token")
        headers["x-twilio-signature"] = customHeader(wsi, "x-twilio-signature")
        // Whether a proxy passed the request on (for /metrics: a local proxy is not this machine).
        headers["x-forwarded-for"] = header(wsi, WSI_TOKEN_X_FORWARDED_FOR)
        headers["forwarded"] = customHeader(wsi, "forwarded")
        return headers
    }

    /// URL arguments (lws has already split them at `&` and decoded them).
    func queryArguments(_ wsi: OpaquePointer) -> [String: String] {
        var query: [String: String] = [:]
        var buffer = [CChar](repeating: 0, count: 2048)
        var index: Int32 = 0
        while lws_hdr_copy_fragment(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_HTTP_URI_ARGS, index) > 0 {
            let pair = Self.string(buffer)
            if let eq = pair.firstIndex(of: "=") {
                query[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            } else {
                query[pair] = ""
            }
            index += 1
        }
        return query
    }

    /// The text of a NUL-terminated buffer lws filled.
    static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Whether a trusted proxy says the client reached it over https (`X-Forwarded-Proto`),
    /// so cookies are marked `Secure` behind a proxy that terminates TLS.
    func forwardedOverTLS(_ wsi: OpaquePointer) -> Bool {
        guard !config.trustedProxies.isEmpty else { return false }
        var buffer = [CChar](repeating: 0, count: 64)
        guard lws_get_peer_simple(wsi, &buffer, buffer.count) != nil else { return false }
        let peer = Self.string(buffer)
        return config.trustedProxies.contains { $0.contains(peer) }
            && customHeader(wsi, "x-forwarded-proto")?.lowercased() == "https"
    }

    /// The client's address: the connection's peer, or behind a trusted proxy the
    /// address it forwards (see `WireDecoding.clientAddress`).
    func peerAddress(_ wsi: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        guard lws_get_peer_simple(wsi, &buffer, buffer.count) != nil else { return "" }
        let peer = Self.string(buffer)
        guard !config.trustedProxies.isEmpty else { return peer }
        return WireDecoding.clientAddress(
            peer: peer,
            // A known header in this lws build (LWS_WITH_HTTP_UNCOMMON_HEADERS), not a custom one.
            forwardedFor: header(wsi, WSI_TOKEN_X_FORWARDED_FOR),
            trusted: config.trustedProxies
        )
    }
}
