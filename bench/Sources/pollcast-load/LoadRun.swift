import CLibWebSockets
import Foundation
import Histogram

/// `POLLCAST_LOAD_DEBUG=1`: print what each screen saw and every close it was sent.
let loadDebug = ProcessInfo.processInfo.environment["POLLCAST_LOAD_DEBUG"] != nil

/// Seconds on a monotonic clock.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// One scenario against one server, on one lws client context driven by this thread.
/// Every phase is bounded in time; every connection goes to 127.0.0.1 only.
final class LoadRun {
    enum Role: String { case participant, screen, console }

    final class Client {
        let index: Int
        let role: Role
        var wsi: OpaquePointer?
        var open = false
        var greeted = false
        var failed = false
        /// Set to make the next writeable callback close the connection.
        var drop = false
        /// A screen that stops reading after its first frame.
        var stalled = false
        /// A message arriving in pieces (lws delivers large ones as they come).
        var incoming: [UInt8] = []
        /// Frames waiting to be written (hello, answers).
        var outbox: [[UInt8]] = []
        /// Send times of answers not yet acked (acks come back in order).
        var unacked: [Double] = []
        var answersSent = 0
        var acks = 0
        var errors = 0
        var resultsFrames = 0
        var lastTotal = -1
        var finalSeenAt: Double?
        /// Whether this participant answers (else it only watches).
        var answers = true
        /// Results frames received while answers were still being sent (the cadence).
        var framesWhileSending = 0
        /// When this participant sends its next answer (`Scenario.answerGap`).
        var nextAnswerAt: Double?

        init(index: Int, role: Role) {
            self.index = index
            self.role = role
        }
    }

    struct Outcome {
        var scenario: String
        var target: String
        var answers = 0
        var acked = 0
        var errors = 0
        var dropped = 0
        var seconds = 0.0
        var answersPerSecond = 0.0
        var ack = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var delivery = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var screenDelivery = Histogram<UInt64>(
            highestTrackableValue: 120_000_000,
            numberOfSignificantValueDigits: .three
        )
        var settleMilliseconds: Double?
        var framesPerSecond = 0.0
        var connectSeconds = 0.0
        var complete = false
        /// Results frames per watcher while answers were being sent, and how many one
        /// frame per tick would have been.
        var cadence: (expected: Double, median: Int, low: Int, high: Int)?
    }

    let scenario: Scenario
    let port: Int
    let poll: String?
    let token: String?
    let room: String
    let expectedTotal: Int
    var clients: [Client] = []
    var context: OpaquePointer?
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(pollcast_lws_pre) + 4096)
    var strings: [UnsafeMutablePointer<CChar>] = []
    /// The client side's libuv loop (nil: lws' own poll() loop).
    var uvLoop: UnsafeMutablePointer<uv_loop_t>?
    let useUV: Bool
    let stalledScreens: Int
    var outcome: Outcome

    // Phases, driven by `step` on every timer tick.
    var nextConnect = 0
    var connectStarted = 0.0
    var voteStarted: Double?
    var schedule: [(time: Double, client: Int)] = []
    var scheduleCursor = 0
    var lastSend = 0.0
    var lastAck = 0.0
    var framesDuringVote = 0
    /// Acks still to come before every answer of the run was acked, and when that was.
    var acksOutstanding = 0
    var sendingEndedAt: Double?
    /// Participants whose next answer waits `answerGap` after an ack.
    var pacedClients: [Client] = []
    let tickSeconds: Double
    var finished = false
    var lastProgress = 0.0
    let deadline: Double
    /// Called when every connection is ready, just before the first answer (server samples).
    var onVoteStart: () -> Void = {}
    /// The server's open file descriptors and RSS (KB), for the reconnect storm.
    var probe: () -> (fds: Int, rssKB: Double) = { (0, 0) }

    /// The reconnect storm's stages and what the server looked like at each.
    enum StormStage { case connected, dropping, settlingAfterDrop, reconnecting, closing, settlingAfterClose, done }
    var storm = StormStage.connected
    var stormMark = 0.0
    struct StormFigures {
        var baseline = (fds: 0, rssKB: 0.0)
        var connected = (fds: 0, rssKB: 0.0)
        var reconnected = (fds: 0, rssKB: 0.0)
        var afterClose = (fds: 0, rssKB: 0.0)
        var reconnectSeconds = 0.0
        var reconnectedCount = 0
    }
    var stormFigures = StormFigures()

    /// `expectedTotal`: the `total` a results frame shows once every answer counted
    /// (respondents for pollcast, answer frames for the floor).
    init(
        scenario: Scenario,
        port: Int,
        room: String,
        poll: String?,
        token: String?,
        target: String,
        expectedTotal: Int,
        useUV: Bool = true,
        stalledScreens: Int = 0,
        tickMilliseconds: Int = 50
    ) {
        self.tickSeconds = Double(tickMilliseconds) / 1000
        self.useUV = useUV
        self.stalledScreens = stalledScreens
        self.scenario = scenario
        self.port = port
        self.poll = poll
        self.token = token
        self.room = room
        self.expectedTotal = expectedTotal
        outcome = Outcome(scenario: scenario.name, target: target)
        deadline = now() + 120 + scenario.window
        var index = 0
        for (role, count) in [
            (Role.screen, scenario.screens), (.console, scenario.consoles), (.participant, scenario.participants),
        ] {
            for _ in 0..<count {
                clients.append(Client(index: index, role: role))
                index += 1
            }
        }
    }

    func retain(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        strings.append(p)
        return UnsafePointer(p)
    }

    func run() -> Outcome {
        lws_set_log_level(1, nil)
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(
            to: lws_protocols(
                name: retain("pollcast.v1"),
                callback: loadCallback,
                per_session_data_size: 0,
                rx_buffer_size: 65536,
                id: 0,
                user: nil,
                tx_packet_size: 0
            )
        )
        (protocols + 1).initialize(to: lws_protocols())
        var info = lws_context_creation_info()
        info.port = -1  // CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.gid = -1
        info.uid = -1
        info.user = Unmanaged.passUnretained(self).toOpaque()
        var foreignLoops: [UnsafeMutableRawPointer?] = [nil]
        if useUV {
            let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
            uv_loop_init(loop)
            uvLoop = loop
            foreignLoops[0] = UnsafeMutableRawPointer(loop)
            info.options |= UInt64(LWS_SERVER_OPTION_LIBUV)
        }
        let created = foreignLoops.withUnsafeMutableBufferPointer { loops in
            if useUV { info.foreign_loops = loops.baseAddress }
            return lws_create_context(&info)
        }
        guard let context = created else { fatalError("cannot create the client context") }
        self.context = context
        let timer = UnsafeMutablePointer<pollcast_timer>.allocate(capacity: 1)
        timer.initialize(to: pollcast_timer())
        timer.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        connectStarted = now()
        stormFigures.baseline = probe()
        scheduleTick(timer)
        while !finished {
            if let uvLoop {
                uv_run(uvLoop, UV_RUN_DEFAULT)
            } else if lws_service(context, 0) < 0 {
                break
            }
        }
        lws_context_destroy(context)
        if let uvLoop {
            uv_run(uvLoop, UV_RUN_DEFAULT)
            uv_loop_close(uvLoop)
            uvLoop.deallocate()
        }
        timer.deallocate()
        protocols.deallocate()
        for s in strings { free(s) }
        return outcome
    }

    func scheduleTick(_ timer: UnsafeMutablePointer<pollcast_timer>) {
        let sul = UnsafeMutableRawPointer(timer).assumingMemoryBound(to: lws_sorted_usec_list_t.self)
        lws_sul_schedule(context, 0, sul, loadTick, 2000)
    }

    /// Runs every 2 ms on the service thread.
    func step() {
        let t = now()
        if t > deadline {
            progress(force: true, note: "time is up")
            finish(t)
            return
        }
        if scenario.reconnectStorm && storm != .connected {
            stormStep(t)
            return
        }
        if voteStarted == nil {
            // Connect at a bounded rate: thousands of connects at once are quadratic in lws.
            var started = 0
            while nextConnect < clients.count && started < 50 {
                connect(clients[nextConnect])
                nextConnect += 1
                started += 1
            }
            let ready = clients.allSatisfy { $0.greeted || $0.failed }
            progress(force: false, note: "connecting")
            if ready && nextConnect == clients.count {
                if scenario.reconnectStorm { stormStep(t) } else { startVote(t) }
            }
        } else {
            while scheduleCursor < schedule.count && schedule[scheduleCursor].time <= t {
                let client = clients[schedule[scheduleCursor].client]
                queueAnswer(client, at: t)
                scheduleCursor += 1
            }
            for c in pacedClients {
                guard let at = c.nextAnswerAt, at <= t else { continue }
                c.nextAnswerAt = nil
                queueAnswer(c, at: t)
            }
            progress(force: false, note: "answering")
            let answered = clients.allSatisfy {
                $0.role != .participant || !$0.answers || $0.failed
                    || ($0.acks + $0.errors >= scenario.answersEach)
            }
            let subscribers = clients.filter { receivesResults($0) && !$0.failed }
            let settled = subscribers.allSatisfy { $0.finalSeenAt != nil }
            if answered && settled && scheduleCursor == schedule.count { finish(t) }
        }
    }

    /// The reconnect storm, one stage at a time; every wait is bounded by `deadline`.
    func stormStep(_ t: Double) {
        let participants = clients.filter { $0.role == .participant }
        switch storm {
        case .connected:
            FileHandle.standardError.write(Data("\n".utf8))
            outcome.connectSeconds = t - connectStarted
            stormFigures.connected = probe()
            for c in participants {
                c.drop = true
                lws_callback_on_writable(c.wsi)
            }
            storm = .dropping
        case .dropping:
            progress(force: false, note: "dropping")
            if participants.allSatisfy({ !$0.open }) {
                storm = .settlingAfterDrop
                stormMark = t
            }
        case .settlingAfterDrop:
            // Let the server notice every close, then everyone comes back at once.
            if probe().fds <= stormFigures.baseline.fds + scenario.screens + scenario.consoles || t - stormMark > 5 {
                for c in participants {
                    c.greeted = false
                    c.failed = false
                    c.drop = false
                }
                nextConnect = 0
                stormMark = t
                storm = .reconnecting
            }
        case .reconnecting:
            var started = 0
            while nextConnect < participants.count && started < 50 {
                connect(participants[nextConnect])
                nextConnect += 1
                started += 1
            }
            progress(force: false, note: "reconnecting")
            if nextConnect == participants.count && participants.allSatisfy({ $0.greeted || $0.failed }) {
                stormFigures.reconnectSeconds = t - stormMark
                stormFigures.reconnectedCount = participants.filter(\.greeted).count
                stormFigures.reconnected = probe()
                for c in clients {
                    c.drop = true
                    lws_callback_on_writable(c.wsi)
                }
                storm = .closing
            }
        case .closing:
            if clients.allSatisfy({ !$0.open }) {
                stormMark = t
                storm = .settlingAfterClose
            }
        case .settlingAfterClose:
            let now = probe()
            if now.fds <= stormFigures.baseline.fds || t - stormMark > 5 {
                stormFigures.afterClose = now
                storm = .done
                lastAck = t
                voteStarted = stormMark
                finish(t)
            }
        case .done:
            break
        }
    }

    func receivesResults(_ c: Client) -> Bool {
        !c.stalled && (c.role != .participant || scenario.resultsToParticipants)
    }

    func progress(force: Bool, note: String) {
        let t = now()
        guard force || t - lastProgress > 0.5 else { return }
        lastProgress = t
        let open = clients.filter(\.open).count
        let greeted = clients.filter(\.greeted).count
        let acks = clients.reduce(0) { $0 + $1.acks }
        FileHandle.standardError.write(
            Data(
                "\r[\(outcome.target) \(scenario.name)] \(note): open \(open)/\(clients.count), ready \(greeted), acks \(acks)   "
                    .utf8
            )
        )
    }

    func connect(_ c: Client) {
        var ci = lws_client_connect_info()
        ci.context = context
        ci.address = retain("127.0.0.1")
        ci.port = Int32(port)
        var path = "/ws/\(room)?role=\(c.role.rawValue)"
        if c.role == .console, let token { path += "&token=\(token)" }
        ci.path = retain(path)
        ci.host = ci.address
        ci.origin = ci.address
        ci.protocol = retain("pollcast.v1")
        ci.ietf_version_or_minus_one = -1
        ci.opaque_user_data = UnsafeMutableRawPointer(bitPattern: c.index + 1)
        c.wsi = lws_client_connect_via_info(&ci)
        if c.wsi == nil { c.failed = true }
    }

    func startVote(_ t: Double) {
        FileHandle.standardError.write(Data("\n".utf8))
        outcome.connectSeconds = t - connectStarted
        onVoteStart()
        voteStarted = now()
        var participants = clients.filter { $0.role == .participant && !$0.failed }
        if let answering = scenario.answering {
            for c in participants.dropFirst(answering) { c.answers = false }
            participants = Array(participants.prefix(answering))
        }
        acksOutstanding = participants.count * max(scenario.answersEach, 1)
        if scenario.answerGap > 0 { pacedClients = participants }
        for (i, c) in participants.enumerated() {
            let offset = participants.count > 1 ? scenario.window * Double(i) / Double(participants.count - 1) : 0
            schedule.append((t + offset, c.index))
        }
    }

    func queueAnswer(_ c: Client, at t: Double) {
        guard c.answersSent < scenario.answersEach else { return }
        let choice = (c.index + c.answersSent) % 3
        c.answersSent += 1
        let body =
            scenario.openPoll
            ? #""text":"answer \#(c.index) \#(String(repeating: "lorem ipsum ", count: 22))""#
            : #""choices":[\#(choice)]"#
        let frame = #"{"type":"answer","ref":\#(c.answersSent),"poll":"\#(poll ?? "floor")",\#(body)}"#
        c.outbox.append(Array(frame.utf8))
        c.unacked.append(t)
        outcome.answers += 1
        lastSend = t
        lws_callback_on_writable(c.wsi)
    }

    func finish(_ t: Double) {
        guard !finished else { return }
        finished = true
        FileHandle.standardError.write(Data("\n".utf8))
        let start = voteStarted ?? t
        outcome.complete = t <= deadline
        outcome.seconds = max(lastAck - start, 1e-9)
        outcome.acked = clients.reduce(0) { $0 + $1.acks }
        outcome.errors = clients.reduce(0) { $0 + $1.errors }
        outcome.dropped = clients.filter(\.failed).count
        outcome.answersPerSecond = Double(outcome.acked) / outcome.seconds
        outcome.framesPerSecond = Double(framesDuringVote) / max(t - start, 1e-9)
        if loadDebug {
            for c in clients where c.role == .screen {
                FileHandle.standardError.write(
                    Data(
                        "screen \(c.index): frames \(c.resultsFrames) last total \(c.lastTotal) final \(String(describing: c.finalSeenAt)) lastSend \(lastSend)\n"
                            .utf8
                    )
                )
            }
        }
        let firstFinal = clients.filter { $0.role == .screen }.compactMap(\.finalSeenAt).min()
        if let firstFinal, scenario.answersEach == 1 { outcome.settleMilliseconds = (firstFinal - lastAck) * 1000 }
        if scenario.answering != nil, let sendingEndedAt {
            let frames = clients.filter { receivesResults($0) && !$0.failed && !$0.answers }.map(\.framesWhileSending)
                .sorted()
            if !frames.isEmpty {
                outcome.cadence = (
                    (sendingEndedAt - start) / tickSeconds, frames[frames.count / 2], frames[0],
                    frames[frames.count - 1]
                )
            }
        }
        for c in clients where receivesResults(c) {
            guard let seen = c.finalSeenAt else { continue }
            let micros = UInt64(max(seen - lastSend, 0) * 1e6)
            outcome.delivery.record(micros)
            if c.role == .screen { outcome.screenDelivery.record(micros) }
        }
        if let uvLoop { uv_stop(uvLoop) } else { lws_cancel_service(context) }
    }

    // MARK: Callbacks (service thread)

    func established(_ c: Client) {
        c.open = true
        if c.role == .participant {
            let id = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            c.outbox.append(Array(#"{"type":"hello","participant":"\#(id)"}"#.utf8))
            lws_callback_on_writable(c.wsi)
        }
    }

    func received(_ c: Client, _ bytes: UnsafeRawBufferPointer) {
        let t = now()
        if voteStarted != nil { framesDuringVote += 1 }
        let text = String(decoding: bytes, as: UTF8.self)
        if text.contains(#""type":"ack""#) {
            c.acks += 1
            lastAck = max(lastAck, t)
            acksOutstanding -= 1
            if acksOutstanding == 0 { sendingEndedAt = t }
            if !c.unacked.isEmpty { outcome.ack.record(UInt64(max(t - c.unacked.removeFirst(), 0) * 1e6)) }
            if scenario.answersEach > 1 {
                // Jittered, or the participants acked by one group commit answer again
                // together and the tally moves in bursts, not in every tick.
                if scenario.answerGap > 0 {
                    c.nextAnswerAt = t + scenario.answerGap * Double.random(in: 0.5...1.5)
                } else {
                    queueAnswer(c, at: t)
                }
            }
        } else if text.contains(#""type":"error""#) {
            c.errors += 1
            if !c.unacked.isEmpty { _ = c.unacked.removeFirst() }
            if outcome.errors < 5 { FileHandle.standardError.write(Data("\nerror frame: \(text)\n".utf8)) }
            outcome.errors += 1
        } else if text.contains(#""type":"state""#) {
            c.greeted = true
            // A stalled screen reads nothing more: its socket buffers fill, the server must cope.
            if c.stalled { lws_rx_flow_control(c.wsi, 0) }
        } else if text.contains(#""type":"results""#) {
            c.resultsFrames += 1
            if voteStarted != nil && sendingEndedAt == nil { c.framesWhileSending += 1 }
            if c.role != .participant { c.greeted = true }
            if c.stalled { lws_rx_flow_control(c.wsi, 0) }
            if let range = text.range(of: #""total":"#) {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                let total = Int(digits) ?? -1
                c.lastTotal = total
                if total == expectedTotal && voteStarted != nil && c.finalSeenAt == nil { c.finalSeenAt = t }
            }
        }
    }

    func writeable(_ c: Client) -> Int32 {
        if c.drop { return -1 }
        guard !c.outbox.isEmpty else { return 0 }
        let frame = c.outbox.removeFirst()
        let start = buffer + Int(pollcast_lws_pre)
        // The client masks in place, so each write starts from a fresh copy.
        frame.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: frame.count) }
        guard lws_write(c.wsi, start, frame.count, LWS_WRITE_TEXT) >= 0 else { return -1 }
        if !c.outbox.isEmpty { lws_callback_on_writable(c.wsi) }
        return 0
    }
}

private func run(of wsi: OpaquePointer?) -> LoadRun? {
    guard let wsi, let context = lws_get_context(wsi), let user = lws_context_user(context) else { return nil }
    return Unmanaged<LoadRun>.fromOpaque(user).takeUnretainedValue()
}

private func client(_ run: LoadRun, _ wsi: OpaquePointer?) -> LoadRun.Client? {
    guard let wsi, let raw = lws_get_opaque_user_data(wsi) else { return nil }
    let index = Int(bitPattern: raw) - 1
    return run.clients.indices.contains(index) ? run.clients[index] : nil
}

private func loadTick(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul else { return }
    let timer = UnsafeMutableRawPointer(sul).assumingMemoryBound(to: pollcast_timer.self)
    let run = Unmanaged<LoadRun>.fromOpaque(timer.pointee.owner).takeUnretainedValue()
    run.step()
    if !run.finished { run.scheduleTick(timer) }
}

private func loadCallback(
    _ wsi: OpaquePointer?,
    _ reason: lws_callback_reasons,
    _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?,
    _ length: Int
) -> Int32 {
    guard let run = run(of: wsi) else { return 0 }
    switch reason {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if let c = client(run, wsi) { run.established(c) }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if let c = client(run, wsi), let input {
            c.incoming.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
            if lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0 {
                c.incoming.withUnsafeBytes { run.received(c, $0) }
                c.incoming.removeAll(keepingCapacity: true)
            }
        }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if let c = client(run, wsi) { return run.writeable(c) }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if let c = client(run, wsi) {
            c.failed = true
            c.open = false
            if let input {
                let why = String(cString: input.assumingMemoryBound(to: CChar.self))
                FileHandle.standardError.write(Data("\nconnection \(c.index) failed: \(why)\n".utf8))
            }
        }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if loadDebug, let input, length >= 2 {
            let bytes = UnsafeRawBufferPointer(start: input, count: length)
            FileHandle.standardError.write(
                Data(
                    "\npeer closed: \(Int(bytes[0]) << 8 | Int(bytes[1])) \(String(decoding: bytes.dropFirst(2), as: UTF8.self))\n"
                        .utf8
                )
            )
        }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if loadDebug, let c = client(run, wsi),
            c.role == .screen
        {
            FileHandle.standardError.write(Data("\nscreen \(c.index) closed after \(c.resultsFrames) frames\n".utf8))
        }
        if let c = client(run, wsi), !run.finished {
            if !c.drop { c.failed = true }
            c.open = false
        }
    default:
        break
    }
    return 0
}
