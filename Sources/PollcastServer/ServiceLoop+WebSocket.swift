import CLibWebSockets
import Foundation
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
            // role, a console without its owner's session, a server that is draining.
            guard sockets.count < config.maxConnections else {
                metrics.add(metrics.connectionsRefused)
                return 1
            }
            return admission(wsi) == nil ? 1 : 0
        case LWS_CALLBACK_ESTABLISHED:
            guard let (room, role) = admission(wsi) else { return -1 }
            let id = assignSlot(user)
            let session = WebSocketSession(
                id: id,
                wsi: wsi,
                room: room,
                role: role,
                budget: TokenBucket(rate: config.answersPerSecond, burst: config.answerBurst, now: now()),
                openedAt: now()
            )
            sockets[id] = session
            members[room, default: []].insert(id)
            metrics.add(metrics.connectionsOpened)
            metrics.add(metrics.connectionsOpen)
            if role != .participant { greet(session) }
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let session = sockets[slotID(user)] else { return -1 }
            if session.incoming.count + length > maxClientFrameBytes {
                return closeConnection(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frames may be at most 4096 bytes")
            }
            if let input { session.incoming.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length)) }
            guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
            let message = session.incoming
            session.incoming.removeAll(keepingCapacity: true)
            if lws_frame_is_binary(wsi) != 0 {
                reply(session, ErrorFrame(ref: nil, error: .badRequest("send JSON text frames")))
            } else {
                receive(message, from: session)
            }
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let session = sockets[slotID(user)] else { return 0 }
            return write(session)
        case LWS_CALLBACK_CLOSED:
            let id = slotID(user)
            if let session = sockets.removeValue(forKey: id) {
                members[session.room]?.remove(id)
                if members[session.room]?.isEmpty == true { members[session.room] = nil }
                metrics.connectionsOpen.wrappingSubtract(1, ordering: .relaxed)
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
        for session in sockets.values where !session.greeted && session.closing == nil && session.openedAt < cutoff {
            session.closing = (UInt16(LWS_CLOSE_STATUS_POLICY_VIOLATION.rawValue), "send hello first")
            lws_callback_on_writable(session.wsi)
        }
    }

    /// The room and role a connection asks for, if it may have them.
    private func admission(_ wsi: OpaquePointer) -> (String, ConnectionRole)? {
        guard !draining, let uri = header(wsi, WSI_TOKEN_GET_URI) else { return nil }
        let parts = uri.split(separator: "/").map(String.init)
        guard parts.count == 2, parts[0] == "ws", polls.roomExists(parts[1]) else { return nil }
        let query = queryArguments(wsi)
        guard let role = ConnectionRole(rawValue: query["role"] ?? "participant") else { return nil }
        if role == .console {
            let cookie = header(wsi, WSI_TOKEN_HTTP_COOKIE).flatMap {
                WireDecoding.cookie(APIRouter.sessionCookie, in: $0)
            }
            guard let token = query["token"] ?? cookie, let me = accounts.authenticate(token: token),
                me.username == parts[1]
            else { return nil }
        }
        return (parts[1], role)
    }

    private func closeConnection(_ wsi: OpaquePointer, _ status: lws_close_status, _ reason: String) -> Int32 {
        var bytes = Array(reason.utf8)
        lws_close_reason(wsi, status, &bytes, bytes.count)
        return -1
    }

    // MARK: Messages from clients

    private func receive(_ message: [UInt8], from session: WebSocketSession) {
        let frame: ClientFrame
        switch WireDecoding.clientFrame(message) {
        case .success(let decoded): frame = decoded
        case .failure(let error):
            reply(session, error)
            return
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
        session.participant = id
        session.name = frame.name.map { String($0.trimmedWhitespace.prefix(40)) }
        if !session.greeted {
            session.greeted = true
            greet(session)
        }
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
        guard session.answerBudget.take(now: now()) else {
            metrics.add(metrics.answersRefused)
            reply(
                session,
                ErrorFrame(ref: frame.ref, error: PollcastError(.rateLimited, "too many answers; slow down"))
            )
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
            metrics.add(metrics.answersRefused)
            reply(session, ErrorFrame(ref: frame.ref, error: error))
        }
    }

    // MARK: Frames to clients

    /// Queues the state frame and the current results for a connection that just joined.
    private func greet(_ session: WebSocketSession) {
        session.stateDue = true
        if let cast = currentCast(room: session.room),
            session.receivesResults(showToParticipants: cast.showToParticipants)
        {
            session.offer(session.role == .console ? cast.full : cast.shared)
        }
        lws_callback_on_writable(session.wsi)
    }

    func reply<T: Encodable>(_ session: WebSocketSession, _ frame: T) {
        guard let bytes = try? JSONEncoder().encode(frame) else { return }
        session.replies.append(Array(bytes))
        lws_callback_on_writable(session.wsi)
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
            case .success: metrics.add(metrics.answersAcked)
            case .failure:
                metrics.add(metrics.answersFailed)
                failed += 1
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
            }
        }
    }

    /// One frame per writeable callback: state first, then replies, then the newest results.
    private func write(_ session: WebSocketSession) -> Int32 {
        let bytes: [UInt8]
        var isResults = false
        if session.stateDue {
            session.stateDue = false
            bytes = stateFrame(for: session)
        } else if !session.replies.isEmpty {
            bytes = session.replies.removeFirst()
        } else if let frame = session.results {
            session.results = nil
            session.lastResultsSeq = frame.seq
            bytes = frame.bytes
            isResults = true
        } else {
            if let close = session.closing {
                // Write the close frame ourselves, then drop the socket on the next
                // writeable. (lws' own close handshake, started by returning -1 here,
                // is cut short on the libuv loop and the frame never leaves.)
                guard !session.closeRequested else { return -1 }
                session.closeRequested = true
                let payload =
                    [UInt8(close.status >> 8), UInt8(close.status & 0xff)] + Array(close.reason.utf8.prefix(120))
                let start = sendBuffer + Int(pollcast_lws_pre)
                payload.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: payload.count) }
                guard
                    lws_write(session.wsi, start, payload.count, lws_write_protocol(UInt32(pollcast_lws_write_close)))
                        >= 0
                else { return -1 }
                lws_callback_on_writable(session.wsi)
                return 0
            }
            return 0
        }
        let pre = Int(pollcast_lws_pre)
        guard bytes.count <= Self.sendChunk else { return -1 }
        bytes.withUnsafeBufferPointer { (sendBuffer + pre).update(from: $0.baseAddress!, count: bytes.count) }
        guard lws_write(session.wsi, sendBuffer + pre, bytes.count, LWS_WRITE_TEXT) >= 0 else { return -1 }
        metrics.add(metrics.framesSent)
        if isResults { metrics.add(metrics.resultsFramesSent) }
        if session.hasPendingWrite || session.closing != nil { lws_callback_on_writable(session.wsi) }
        return 0
    }

    private func stateFrame(for session: WebSocketSession) -> [UInt8] {
        let active = polls.activePoll(room: session.room)
        let mine = session.role == .participant ? polls.mine(room: session.room, participant: session.participant) : nil
        let poll = session.role == .console ? active?.poll : active?.poll.publicView
        return (try? JSONEncoder().encode(StateFrame(poll: poll, mine: mine))).map(Array.init) ?? []
    }
}
