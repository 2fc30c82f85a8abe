import CLibWebSockets
import Dispatch
import Foundation
import Logging
import PollcastApp
import PollcastCore
import Synchronization

/// The lws context and everything that belongs to its service thread: connections,
/// HTTP exchanges, room membership, the broadcast tick.
///
/// Ownership: every stored property below `// Service thread only` is read and written
/// only on the service thread (lws callbacks and the tick run there). Other threads
/// reach the loop only through `inbox`, which wakes it with `lws_cancel_service`.
/// That is what makes the `@unchecked Sendable` safe: the reference crosses threads
/// (into the thread closure and lws' context user pointer) but its state does not.
final class ServiceLoop: @unchecked Sendable {
    let config: ServerConfig
    let polls: PollService
    let accounts: AccountService
    let router: APIRouter
    let inbox: ServiceInbox
    let metrics: ServerMetrics
    let logger: Logger
    private let apiQueue = DispatchQueue(label: "pollcast.api", qos: .userInitiated, attributes: .concurrent)
    /// Logins hash passwords (PBKDF2, slow on purpose) one at a time on their own queue,
    /// so a burst of logins cannot take the API's threads or both cores.
    private let loginQueue = DispatchQueue(label: "pollcast.login", qos: .utility)
    /// Logins waiting on `loginQueue`; past `maxWaitingLogins` a login is refused at once.
    private let waitingLogins = Atomic<Int>(0)
    static let maxWaitingLogins = 32

    /// Set by `requestStop` (any thread); the service thread leaves its loop when it sees it.
    private let stopRequested = Atomic<Bool>(false)

    // Service thread only.
    var context: OpaquePointer?
    private var protocols: UnsafeMutablePointer<lws_protocols>?
    private var retainedStrings: [UnsafeMutablePointer<CChar>] = []
    private var timer: UnsafeMutablePointer<pollcast_timer>?
    /// Liveness for every connection (lws pings a quiet one, then hangs up); lws keeps
    /// the pointer, so it lives until the context is destroyed.
    private var idlePolicy: UnsafeMutablePointer<lws_retry_bo_t>?
    /// The libuv loop lent to lws (`EventLoop.uv`); nil with lws' own poll() loop.
    private var uvLoop: UnsafeMutablePointer<uv_loop_t>?
    /// Scratch buffer with `LWS_PRE` headroom for every write; lws copies what it cannot send at once.
    let sendBuffer: UnsafeMutablePointer<UInt8>
    /// HTTP bodies go out in chunks of this size; it also bounds one WebSocket frame,
    /// and the largest frame pollcast makes (100 open responses) fits well inside.
    static let sendChunk = 128 * 1024
    var nextID = 1
    var sockets: [Int: WebSocketSession] = [:]
    var exchanges: [Int: HTTPExchange] = [:]
    var members: [String: Set<Int>] = [:]
    /// Screens and consoles per room: who gets results frames whatever the poll's
    /// settings (participants only when it shares results), so a tick does not walk a
    /// lecture hall of participants to find the two screens.
    var watchers: [String: Set<Int>] = [:]
    /// Open screens and consoles per peer address (participants are not counted).
    var viewers: [String: Int] = [:]
    var casts: [String: RoomCast] = [:]
    /// The console frame of the cast each room's members were last offered by a tick.
    var fannedOut: [String: EncodedFrame] = [:]
    var draining = false
    private var lastSweep = 0
    /// When the next tick is due (monotonic seconds): ticks keep to a grid of the
    /// period from the first one, however long each took.
    private var nextTickAt: Double = 0
    private var emptySince: Double?
    private var drainDeadline: Double = 0
    private var serviceThread: pthread_t?

    init(
        config: ServerConfig,
        polls: PollService,
        accounts: AccountService,
        router: APIRouter,
        inbox: ServiceInbox,
        metrics: ServerMetrics,
        logger: Logger
    ) {
        self.config = config
        self.polls = polls
        self.accounts = accounts
        self.router = router
        self.inbox = inbox
        self.metrics = metrics
        self.logger = logger
        // Every results frame is built to fit one write (see `ResultsSnapshot.maxFrameBytes`).
        precondition(Self.sendChunk >= ResultsSnapshot.maxFrameBytes, "the send buffer must hold the largest frame")
        sendBuffer = .allocate(capacity: Int(pollcast_lws_pre) + Self.sendChunk)
    }

    deinit {
        sendBuffer.deallocate()
    }

    /// Creates the context on a new service thread and returns the port it listens on.
    func start() throws -> Int {
        let ready = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<Int, ServerError>?>(nil)
        let thread = Thread { [self] in
            serviceThread = pthread_self()
            StoreThreads.forbidCurrentThread()
            let result = createContext()
            outcome.withLock { $0 = result }
            ready.signal()
            guard case .success = result else { return }
            serve()
        }
        thread.name = "pollcast-lws"
        thread.stackSize = 8 << 20
        thread.start()
        ready.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Refuses new connections and answers from now on (first step of a drain);
    /// returns once the service thread has done so, so no answer slips in after.
    func beginDrain() {
        let done = DispatchSemaphore(value: 0)
        inbox.post(.drain(done))
        done.wait()
    }

    /// Closes every socket with 1001 once its queued replies are written, then leaves
    /// the loop and destroys the context (last step of a drain).
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        inbox.post(.drain(nil))
        inbox.post(.closeAll)
    }

    /// Whether the service thread has finished; `stopped.wait()` blocks until it has.
    let stopped = DispatchSemaphore(value: 0)

    func assertOnServiceThread() {
        assert(serviceThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false, "not on the lws service thread")
    }

    private func retain(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        retainedStrings.append(copy)
        return copy
    }

    private func createContext() -> Result<Int, ServerError> {
        lws_set_log_level(1 | 2, nil)  // errors and warnings
        protocols = .allocate(capacity: 2)
        protocols!.initialize(
            to: lws_protocols(
                name: retain(pollcastSubprotocol),
                callback: pollcastLWSCallback,
                per_session_data_size: MemoryLayout<Int>.size,
                rx_buffer_size: maxClientFrameBytes,
                id: 0,
                user: nil,
                tx_packet_size: 0
            )
        )
        (protocols! + 1).initialize(to: lws_protocols())

        var info = lws_context_creation_info()
        info.port = Int32(config.port)
        info.iface = config.host.map { UnsafePointer(retain($0)) }
        info.protocols = UnsafePointer(protocols)
        info.gid = -1
        info.uid = -1
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.vhost_name = UnsafePointer(retain("default"))
        idlePolicy = .allocate(capacity: 1)
        idlePolicy!.initialize(to: lws_retry_bo_t())
        idlePolicy!.pointee.secs_since_valid_ping = UInt16(clamping: config.idlePingSeconds)
        idlePolicy!.pointee.secs_since_valid_hangup = UInt16(clamping: config.idlePingSeconds * 2)
        info.retry_and_idle_policy = UnsafePointer(idlePolicy)
        info.max_http_header_data = 8192
        info.timeout_secs = 10
        info.options = UInt64(LWS_SERVER_OPTION_VALIDATE_UTF8)
        if let cert = config.tlsCertificate, let key = config.tlsKey {
            info.options |= UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
            info.ssl_cert_filepath = UnsafePointer(retain(cert))
            info.ssl_private_key_filepath = UnsafePointer(retain(key))
            // HTTP/1.1 only: WebSockets ride on it, and every route is written for it.
            info.alpn = UnsafePointer(retain("http/1.1"))
        }
        var foreignLoops: [UnsafeMutableRawPointer?] = [nil]
        if config.eventLoop == .uv {
            let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
            guard uv_loop_init(loop) == 0 else {
                loop.deallocate()
                return .failure(.cannotListen("libuv could not start a loop"))
            }
            uvLoop = loop
            foreignLoops[0] = UnsafeMutableRawPointer(loop)
            info.options |= UInt64(LWS_SERVER_OPTION_LIBUV)
        }
        let created = foreignLoops.withUnsafeMutableBufferPointer { loops in
            if config.eventLoop == .uv { info.foreign_loops = loops.baseAddress }
            return lws_create_context(&info)
        }
        guard let context = created else {
            closeUVLoop()
            return .failure(.cannotListen("libwebsockets could not create the server on port \(config.port)"))
        }
        self.context = context
        guard let vhost = lws_get_vhost_by_name(context, "default") else {
            lws_context_destroy(context)
            self.context = nil
            closeUVLoop()
            return .failure(.cannotListen("no default vhost"))
        }
        let port = Int(lws_get_vhost_listen_port(vhost))
        logger.info(
            "listening",
            metadata: [
                "port": "\(port)", "event-loop": "\(config.eventLoop.rawValue)",
                "tls": "\(config.tlsCertificate != nil)", "tick-ms": "\(config.tickMilliseconds)",
            ]
        )
        inbox.attach(context)
        timer = .allocate(capacity: 1)
        timer!.initialize(to: pollcast_timer())
        timer!.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        scheduleTick()
        return .success(port)
    }

    private func serve() {
        while !(stopRequested.load(ordering: .acquiring) && drainFinished) {
            if lws_service(context, 0) < 0 { break }
        }
        inbox.attach(nil)
        logger.info("stopped", metadata: ["sockets-left": "\(sockets.count)"])
        if let timer {
            lws_sul_cancel(UnsafeMutableRawPointer(timer).assumingMemoryBound(to: lws_sorted_usec_list_t.self))
        }
        lws_context_destroy(context)
        context = nil
        // lws 4.1 closes its sockets (the listener too) in libuv close callbacks: the loop
        // must run after the destroy, and what lws borrowed must outlive that run.
        closeUVLoop()
        timer?.deallocate()
        protocols?.deallocate()
        idlePolicy?.deallocate()
        for s in retainedStrings { free(s) }
        retainedStrings.removeAll()
        stopped.signal()
    }

    /// Lets lws close its handles on the loop, then closes the loop (after the context is
    /// gone). Bounded: should a handle never close, the loop is left open (a leak) rather
    /// than the shutdown hanging.
    private func closeUVLoop() {
        guard let loop = uvLoop else { return }
        let deadline = Date().addingTimeInterval(2)
        while uv_loop_alive(loop) != 0 && Date() < deadline {
            uv_run(loop, UV_RUN_NOWAIT)
            usleep(1_000)
        }
        guard uv_loop_close(loop) == 0 else {
            logger.warning("libuv handles were still open after shutdown; the loop is left as it is")
            uvLoop = nil
            return
        }
        loop.deallocate()
        uvLoop = nil
    }

    /// Every socket has closed (and a quarter second has passed for lws to flush the
    /// close frames, which it writes asynchronously on the libuv loop), or time is up.
    private var drainFinished: Bool {
        guard draining else { return false }
        let now = Date().timeIntervalSince1970
        if now > drainDeadline { return true }
        guard sockets.isEmpty else {
            emptySince = nil
            return false
        }
        if emptySince == nil { emptySince = now }
        return now - (emptySince ?? now) >= 0.25
    }

    // MARK: Tick

    /// Schedules the next tick from when this one was due, not from now: the time a tick
    /// takes must not stretch the period while the loop keeps up (at 1,000 watchers a
    /// watcher now gets 0.99 of one frame per tick, against 0.95). A tick that could not
    /// run on time is skipped, not run late in a burst: frames carry the newest state.
    private func scheduleTick() {
        guard let timer else { return }
        let period = Double(max(config.tickMilliseconds, 1)) / 1000
        let now = monotonicSeconds()
        if nextTickAt == 0 {
            nextTickAt = now + period
        } else {
            nextTickAt += period
            if nextTickAt <= now {
                // Behind (the fan-out took longer than a period): the missed slots are
                // skipped and the next tick comes a whole period from now, so the loop
                // has that long to deliver acks and read answers. A saturated loop that
                // went straight to the next fan-out made acks wait behind thousands of
                // frames (ack p50 at 5,000 watchers: 100 ms against 4 ms).
                let missed = ((now - nextTickAt) / period).rounded(.down) + 1
                nextTickAt = now + period
                metrics.add(metrics.ticksSkipped, Int(missed))
            }
        }
        let sul = UnsafeMutableRawPointer(timer).assumingMemoryBound(to: lws_sorted_usec_list_t.self)
        lws_sul_schedule(context, 0, sul, pollcastTick, lws_usec_t(((nextTickAt - now) * 1_000_000).rounded()))
    }

    fileprivate func tick() {
        assertOnServiceThread()
        metrics.add(metrics.ticks)
        broadcastAll()
        let second = Int(now())
        if second != lastSweep {
            lastSweep = second
            closeSilentConnections()
        }
        if stopRequested.load(ordering: .acquiring) && drainFinished {
            // Wake the loop so `serve` sees the drain is over: uv_stop only sets a flag,
            // so it is safe from inside this timer callback.
            if let uvLoop { uv_stop(uvLoop) } else { lws_cancel_service(context) }
            return
        }
        scheduleTick()
    }

    // MARK: Jobs from other threads

    fileprivate func drainInbox() {
        assertOnServiceThread()
        for job in inbox.takeAll() {
            switch job {
            case .respond(let id, let response):
                guard let exchange = exchanges[id] else { continue }
                exchange.response = response
                lws_callback_on_writable(exchange.wsi)
            case .answerOutcomes(let outcomes):
                deliver(outcomes)
            case .roomChanged(let room):
                roomChanged(room)
            case .drain(let done):
                if !draining {
                    logger.info("draining: no new connections or answers", metadata: ["sockets": "\(sockets.count)"])
                    draining = true
                    drainDeadline = Date().timeIntervalSince1970 + 5
                }
                done?.signal()
            case .sessionsEnded:
                closeEndedConsoles()
            case .closeAll:
                for session in sockets.values { close(session, LWS_CLOSE_STATUS_GOINGAWAY, "server restarting") }
            }
        }
    }

    // MARK: Identity of connections

    /// The id kept in lws' per-connection memory (a plain Int: lws frees it without deinit).
    func slotID(_ user: UnsafeMutableRawPointer?) -> Int {
        user?.load(as: Int.self) ?? 0
    }

    func assignSlot(_ user: UnsafeMutableRawPointer?) -> Int {
        let id = nextID
        nextID += 1
        user?.storeBytes(of: id, as: Int.self)
        return id
    }

    /// Hands a request to the API queue (logins to their own queue); its response comes
    /// back through the inbox.
    func dispatch(_ request: HTTPRequest) {
        metrics.add(metrics.httpRequests)
        let router = self.router
        let inbox = self.inbox
        // Routed as the router reads paths (empty segments dropped), so `/api/login/`
        // cannot reach the hashing on the API queue.
        if request.method == "POST" && request.path.split(separator: "/") == ["api", "login"] {
            // A browser that says it logged in before (its device cookie is checked when
            // the login runs) may wait behind a longer queue than a stranger: a spray that
            // fills the short one cannot keep the presenter out.
            let bound =
                request.cookie(AccountService.deviceCookie) == nil ? Self.maxWaitingLogins : Self.maxWaitingLogins * 8
            guard waitingLogins.wrappingAdd(1, ordering: .relaxed).newValue <= bound else {
                waitingLogins.wrappingSubtract(1, ordering: .relaxed)
                metrics.add(metrics.loginsRefused)
                var busy = PollcastError(.rateLimited, "many logins are waiting; try again in a moment")
                busy.retryAfter = 2
                inbox.post(.respond(exchange: request.exchange, .error(busy)))
                return
            }
            loginQueue.async { [self] in
                waitingLogins.wrappingSubtract(1, ordering: .relaxed)
                if case .response(let response) = router.handle(request) {
                    if response.status == 429 { metrics.add(metrics.loginsRefused) }
                    inbox.post(.respond(exchange: request.exchange, response))
                }
            }
            return
        }
        // Answers over HTTP count in the same metrics as those over WebSocket.
        let isAnswer = request.method == "POST" && request.path.split(separator: "/").last == "answers"
        if isAnswer { metrics.add(metrics.answersReceived) }
        apiQueue.async { [self] in
            if case .response(let response) = router.handle(request) {
                if isAnswer, let code = response.errorCode { metrics.refused(code) }
                inbox.post(.respond(exchange: request.exchange, response))
            }
        }
    }
}

/// Why a server could not start.
public enum ServerError: Error, CustomStringConvertible {
    case cannotListen(String)
    case store(StoreError)
    /// A key file in the data folder could not be read or made.
    case keyFile(String)
    /// A slide deck could not be packed.
    case slides(String)

    public var description: String {
        switch self {
        case .cannotListen(let s): "cannot listen: \(s)"
        case .store(let e): "cannot open the store: \(e)"
        case .keyFile(let why): why
        case .slides(let why): "cannot write the slides: \(why)"
        }
    }
}

// MARK: - C entry points (no captures, so they convert to C function pointers)

private func loop(of wsi: OpaquePointer?) -> ServiceLoop? {
    guard let wsi, let context = lws_get_context(wsi), let user = lws_context_user(context) else { return nil }
    return Unmanaged<ServiceLoop>.fromOpaque(user).takeUnretainedValue()
}

private func pollcastTick(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul else { return }
    let timer = UnsafeMutableRawPointer(sul).assumingMemoryBound(to: pollcast_timer.self)
    guard let owner = timer.pointee.owner else { return }
    Unmanaged<ServiceLoop>.fromOpaque(owner).takeUnretainedValue().tick()
}

private func pollcastLWSCallback(
    _ wsi: OpaquePointer?,
    _ reason: lws_callback_reasons,
    _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?,
    _ length: Int
) -> Int32 {
    guard let loop = loop(of: wsi) else { return 0 }
    switch reason {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        loop.drainInbox()
        return 0
    case LWS_CALLBACK_HTTP, LWS_CALLBACK_HTTP_BODY, LWS_CALLBACK_HTTP_BODY_COMPLETION, LWS_CALLBACK_HTTP_WRITEABLE,
        LWS_CALLBACK_CLOSED_HTTP:
        guard let wsi else { return 0 }
        return loop.http(wsi, reason, user, input, length)
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION, LWS_CALLBACK_ESTABLISHED, LWS_CALLBACK_RECEIVE,
        LWS_CALLBACK_SERVER_WRITEABLE, LWS_CALLBACK_CLOSED:
        guard let wsi else { return 0 }
        return loop.webSocket(wsi, reason, user, input, length)
    default:
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
}
