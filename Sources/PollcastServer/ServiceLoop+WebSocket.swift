import CLibWebSockets
import Foundation
import PollcastApp
import PollcastCore

extension ServiceLoop {
    /// WebSocket callbacks. Runs on the service thread.
    func webSocket(
        _ wsi: OpaquePointer,
        _ reason: lws_callback_reasons,
        _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?,
        _ length: Int
    ) -> Int32 {
        assertOnServiceThread()
        switch reason {
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            // Refuse at the handshake what can be refused there: an unknown room, a bad
            // role, a console without its owner's session or from another site, too many
            // screens from one address, a server that is draining or full.
            guard sockets.count < config.maxConnections, let admitted = admission(wsi),
                admitted.role != .screen || viewers[admitted.address, default: 0] < config.maxViewersPerAddress
            else {
                metrics.add(metrics.connectionsRefused)
                return 1
            }
            return 0
        case LWS_CALLBACK_ESTABLISHED:
            guard let admitted = admission(wsi) else { return -1 }
            let id = assignSlot(user)
            let session = WebSocketSession(
                id: id,
                wsi: wsi,
                room: admitted.room,
                role: admitted.role,
                address: admitted.address,
                tokenHash: admitted.tokenHash,
                frameBudget: TokenBucket(rate: config.framesPerSecond, burst: config.frameBurst, now: now()),
                patience: TokenBucket(rate: config.framesPerSecond, burst: config.frameBurst * 10, now: now()),
                openedAt: now()
            )
            sockets[id] = session
            members[admitted.room, default: []].insert(id)
            if admitted.role != .participant { watchers[admitted.room, default: []].insert(id) }
            if admitted.role == .screen { viewers[admitted.address, default: 0] += 1 }
            metrics.opened(admitted.role)
            if admitted.role != .participant { greet(session) }
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let session = sockets[slotID(user)] else { return -1 }
            if session.life.isOverflowed { return -1 }
            if session.incoming.count + length > maxClientFrameBytes {
                return closeConnection(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frames may be at most 4096 bytes")
            }
            // Fragments (empty ones too) would each cost a callback outside the frame budget.
            session.fragments += 1
            if session.fragments > 64 {
                return closeConnection(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many fragments in one message")
            }
            if let input { session.incoming.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length)) }
            guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
            let message = session.incoming
            session.incoming.removeAll(keepingCapacity: true)
            session.fragments = 0
            // A closing connection's frames are read and dropped: it is on its way out.
            guard session.life.readsMessages else { return 0 }
            receive(message, binary: lws_frame_is_binary(wsi) != 0, from: session)
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let session = sockets[slotID(user)] else { return 0 }
            return write(session)
        case LWS_CALLBACK_CLOSED:
            let id = slotID(user)
            if let session = sockets.removeValue(forKey: id) {
                members[session.room]?.remove(id)
                if members[session.room]?.isEmpty == true { members[session.room] = nil }
                if session.role != .participant {
                    watchers[session.room]?.remove(id)
                    if watchers[session.room]?.isEmpty == true { watchers[session.room] = nil }
                }
                if session.role == .screen {
                    viewers[session.address, default: 1] -= 1
                    if viewers[session.address] == 0 { viewers[session.address] = nil }
                }
                metrics.closed(session.role)
            }
            return 0
        default:
            return 0
        }
    }

    func now() -> Double { Double(lws_now_usecs()) / 1_000_000 }

    /// Closes (1008) participant connections that have not said hello in time, so idle
    /// sockets cannot pile up. Runs on the service thread about once a second.
    func closeSilentConnections() {
        let cutoff = now() - config.helloTimeoutSeconds
        for session in sockets.values where session.life.state == .joining && session.openedAt < cutoff {
            close(session, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send hello first")
        }
    }

    /// Consoles whose session ended (logout, a new password, expiry) are closed at once
    /// (1008) and get no further frame: not one more result after the logout.
    func closeEndedConsoles() {
        let now = Date().timeIntervalSince1970
        for session in sockets.values where session.role == .console && session.life.readsMessages {
            guard let hash = session.tokenHash, !accounts.isLive(tokenHash: hash, now: now) else { continue }
            close(session, LWS_CLOSE_STATUS_POLICY_VIOLATION, "your session ended; log in again")
        }
    }

    /// Closes a connection with `status` once the replies already queued are written;
    /// a client that does not read them within 5 s is dropped without its close frame.
    func close(_ session: WebSocketSession, _ status: lws_close_status, _ reason: String) {
        guard session.life.close(.init(status: UInt16(status.rawValue), reason: reason)) else { return }
        lws_set_timeout(session.wsi, PENDING_TIMEOUT_CLOSE_SEND, 5)
        lws_callback_on_writable(session.wsi)
    }

    /// Who a connection is, as far as its handshake says.
    struct Admission {
        var room: String
        var role: ConnectionRole
        var address: String
        /// A console's session (SHA-256 of its token).
        var tokenHash: [UInt8]?
    }

    /// The room and role a connection asks for, if it may have them. Reads memory only
    /// (the room directory and the live sessions): the service thread never waits for
    /// the store, whatever room name a client makes up.
    private func admission(_ wsi: OpaquePointer) -> Admission? {
        guard !draining, let uri = header(wsi, WSI_TOKEN_GET_URI) else { return nil }
        let parts = uri.split(separator: "/").map(String.init)
        guard parts.count == 2, parts[0] == "ws", polls.knownRoom(parts[1]) else { return nil }
        let query = queryArguments(wsi)
        guard let role = ConnectionRole(rawValue: query["role"] ?? "participant") else { return nil }
        var admitted = Admission(room: parts[1], role: role, address: WireDecoding.addressKey(peerAddress(wsi)))
        if role == .console {
            // A page of another site may open a socket with the presenter's cookie: a
            // browser always says where the page came from, so a foreign Origin is refused.
            if let origin = header(wsi, WSI_TOKEN_ORIGIN) {
                guard WireDecoding.isSameOrigin(origin, host: header(wsi, WSI_TOKEN_HOST)) else { return nil }
            }
            let cookie = header(wsi, WSI_TOKEN_HTTP_COOKIE).flatMap {
                WireDecoding.cookie(APIRouter.sessionCookie, in: $0)
            }
            guard let token = query["token"] ?? cookie, let me = accounts.authenticate(token: token),
                me.username == parts[1]
            else { return nil }
            admitted.tokenHash = me.tokenHash
        }
        return admitted
    }

    private func closeConnection(_ wsi: OpaquePointer, _ status: lws_close_status, _ reason: String) -> Int32 {
        var bytes = Array(reason.utf8)
        lws_close_reason(wsi, status, &bytes, bytes.count)
        return -1
    }

    // MARK: Messages from clients

    private func receive(_ message: [UInt8], binary: Bool, from session: WebSocketSession) {
        // Every frame takes from the connection's budget, whatever it holds. A frame over
        // budget is not even parsed: it gets the same prepared `rate_limited` reply, and a
        // connection that runs out of patience (ten bursts of refusals, refilled at the
        // frame rate) is closed.
        let t = now()
        guard session.frameBudget.take(now: t) else {
            metrics.add(metrics.framesRefused)
            if session.patience.take(now: t) {
                queueReply(session, Self.tooManyMessages)
            } else {
                close(session, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many messages")
            }
            return
        }
        let frame: ClientFrame
        switch binary ? nil : WireDecoding.clientFrame(message) {
        case nil:
            reply(session, ErrorFrame(ref: nil, error: .badRequest("send JSON text frames")))
            return
        case .failure(let error)?:
            reply(session, error)
            return
        case .success(let f)?:
            frame = f
        }
        switch frame.type {
        case "hello":
            hello(frame, from: session)
        case "answer":
            answer(frame, from: session)
        default:
            reply(session, ErrorFrame(ref: frame.ref, error: .badRequest("unknown message type \(frame.type)")))
        }
    }

    private func hello(_ frame: ClientFrame, from session: WebSocketSession) {
        guard session.role == .participant else { return }  // screens and consoles: ignored
        guard let id = frame.participant, ParticipantID.isAcceptable(id) else {
            reply(
                session,
                ErrorFrame(
                    ref: frame.ref,
                    error: .badRequest(
                        "participant must be a random id of 22 to 64 characters [A-Za-z0-9_-] (128 bits)"
                    )
                )
            )
            return
        }
        if let current = session.participant, current != id {
            reply(
                session,
                ErrorFrame(ref: frame.ref, error: .badRequest("this connection already has a participant id"))
            )
            return
        }
        if let name = frame.name {
            do { session.name = try TextLimits.screenName.checked(name) } catch {
                reply(session, ErrorFrame(ref: frame.ref, error: error))
                return
            }
        }
        session.participant = id
        greet(session)
    }

    private func answer(_ frame: ClientFrame, from session: WebSocketSession) {
        metrics.add(metrics.answersReceived)
        guard session.role == .participant else {
            reply(session, ErrorFrame(ref: frame.ref, error: .badRequest("only participants answer")))
            return
        }
        guard let participant = session.participant else {
            reply(session, ErrorFrame(ref: frame.ref, error: .badRequest("send hello with your participant id first")))
            return
        }
        guard !draining else {
            reply(session, ErrorFrame(ref: frame.ref, error: PollcastError(.unavailable, "the server is restarting")))
            return
        }
        do {
            try polls.submit(
                room: session.room,
                participant: participant,
                name: session.name,
                pollID: frame.poll,
                choices: frame.choices,
                text: frame.text,
                words: frame.words,
                ref: frame.ref,
                target: .socket(session.id)
            )
        } catch {
            metrics.refused(error.code)
            reply(session, ErrorFrame(ref: frame.ref, error: error))
        }
    }

    // MARK: Frames to clients

    /// Queues the state frame and the current results for a connection that joins (a
    /// participant's later hellos change nothing).
    private func greet(_ session: WebSocketSession) {
        guard session.life.greet() else { return }
        if let cast = currentCast(room: session.room) {
            _ = session.life.offer(
                session.role == .console ? cast.full : cast.shared,
                showToParticipants: cast.showToParticipants
            )
        }
        lws_callback_on_writable(session.wsi)
    }

    /// The reply to a frame over the connection's budget, encoded once.
    static let tooManyMessages: [UInt8] =
        (try? JSONEncoder().encode(
            ErrorFrame(ref: nil, error: PollcastError(.rateLimited, "too many messages; slow down"))
        ))
        .map(Array.init) ?? []

    func reply<T: Encodable>(_ session: WebSocketSession, _ frame: T) {
        guard let bytes = try? JSONEncoder().encode(frame) else { return }
        queueReply(session, Array(bytes))
    }

    /// Queues a reply. A client that leaves more than `maxPendingReplyBytes` of replies
    /// unread is closed (1008): its queue is dropped, and so is the socket if even the
    /// close frame cannot leave in time.
    func queueReply(_ session: WebSocketSession, _ bytes: [UInt8]) {
        switch session.life.queue(bytes, limit: config.maxPendingReplyBytes) {
        case .ignored:
            return
        case .queued:
            lws_callback_on_writable(session.wsi)
        case .overflowed:
            metrics.add(metrics.connectionsOverflowed)
            logger.notice(
                "closed a connection that left its replies unread",
                metadata: ["role": "\(session.role.rawValue)", "address": "\(session.address)"]
            )
            lws_set_timeout(session.wsi, PENDING_TIMEOUT_CLOSE_SEND, 5)
            lws_callback_on_writable(session.wsi)
        }
    }

    /// Acks (or errors) for answers the writer committed.
    func deliver(_ outcomes: [AnswerOutcome]) {
        var failed = 0
        defer {
            if failed > 0 {
                logger.error(
                    "answers could not be made durable; clients were told to resend",
                    metadata: ["count": "\(failed)"]
                )
            }
        }
        for outcome in outcomes {
            switch outcome.reply {
            case .success: metrics.acked(receivedAt: outcome.received)
            case .failure(let error) where error.code == .unavailable:
                metrics.add(metrics.answersFailed)
                failed += 1
            case .failure(let error):
                // Refused by the shared store's rules (the poll moved on on another node).
                metrics.refused(error.code)
            }
            switch outcome.target {
            case .socket(let id):
                guard let session = sockets[id] else { continue }
                switch outcome.reply {
                case .success(let ack): reply(session, ack)
                case .failure(let error): reply(session, ErrorFrame(ref: outcome.ref, error: error))
                }
            case .http(let id):
                guard let exchange = exchanges[id] else { continue }
                switch outcome.reply {
                case .success(let ack): exchange.response = .json(ack)
                case .failure(let error): exchange.response = .error(error)
                }
                lws_callback_on_writable(exchange.wsi)
            case .sms(let id):
                guard let exchange = exchanges[id] else { continue }
                exchange.response = TextMessageGateway.reply(to: outcome)
                lws_callback_on_writable(exchange.wsi)
            }
        }
    }

    /// One frame per writeable callback, in the order `session.life` gives: state, then
    /// replies, then the newest results; when closing, replies, the close frame, hang-up.
    private func write(_ session: WebSocketSession) -> Int32 {
        let pre = Int(pollcast_lws_pre)
        let bytes: [UInt8]
        var isResults = false
        guard let next = session.life.nextWrite() else { return 0 }
        switch next {
        case .hangUp:
            return -1
        case .close(let close):
            // Written by us, then the socket is dropped on the next writeable. (lws' own
            // close handshake, started by returning -1 here, is cut short on the libuv
            // loop and the frame never leaves.)
            let payload = [UInt8(close.status >> 8), UInt8(close.status & 0xff)] + Array(close.reason.utf8.prefix(120))
            (sendBuffer + pre).update(from: payload, count: payload.count)
            let mode = lws_write_protocol(UInt32(pollcast_lws_write_close))
            guard lws_write(session.wsi, sendBuffer + pre, payload.count, mode) >= 0 else { return -1 }
            lws_callback_on_writable(session.wsi)
            return 0
        case .state:
            bytes = stateFrame(for: session)
        case .reply(let reply):
            bytes = reply
        case .results(let frame):
            bytes = frame.bytes
            isResults = true
        }
        defer { if session.life.wantsWrite { lws_callback_on_writable(session.wsi) } }
        guard bytes.count <= Self.sendChunk else {
            // Frames are built to fit (ResultsSnapshot.maxFrameBytes); should one ever not,
            // it is dropped and logged, and the connection stays: never close a screen for it.
            metrics.add(metrics.framesDropped)
            logger.error("a frame too large to send was dropped", metadata: ["bytes": "\(bytes.count)"])
            return 0
        }
        (sendBuffer + pre).update(from: bytes, count: bytes.count)
        guard lws_write(session.wsi, sendBuffer + pre, bytes.count, LWS_WRITE_TEXT) >= 0 else { return -1 }
        metrics.add(metrics.framesSent)
        if isResults { metrics.add(metrics.resultsFramesSent) }
        return 0
    }

    private func stateFrame(for session: WebSocketSession) -> [UInt8] {
        let active = polls.activePoll(room: session.room)
        let mine = session.role == .participant ? polls.mine(room: session.room, participant: session.participant) : nil
        let poll = session.role == .console ? active?.poll : active?.poll.publicView
        return (try? JSONEncoder().encode(StateFrame(poll: poll, mine: mine))).map(Array.init) ?? []
    }
}
