// The floor: the least work an lws server can do for pollcast's load. It parses
// nothing: the first frame of a connection gets a fixed `state` frame, every later
// frame a fixed `ack`; every tick it broadcasts one `results` frame carrying the
// number of answer frames seen, to screens (and to everyone with --all). What it
// costs is what the wire and lws cost on this machine.
import CLibWebSockets
import Foundation

final class Floor {
    final class Connection {
        let wsi: OpaquePointer
        let subscribed: Bool
        var greeted = false
        var replies: [StaticString] = []
        var results: [UInt8]?

        init(wsi: OpaquePointer, subscribed: Bool) {
            self.wsi = wsi
            self.subscribed = subscribed
        }
    }

    var connections: [Int: Connection] = [:]
    var nextID = 1
    var answers = 0
    var broadcastAnswers = -1
    var broadcastAll = false
    var tickMicroseconds: Int64 = 50_000
    var context: OpaquePointer?
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Int(pollcast_lws_pre) + 4096)
    var timer = UnsafeMutablePointer<pollcast_timer>.allocate(capacity: 1)

    func tick() {
        if answers != broadcastAnswers {
            broadcastAnswers = answers
            let frame = Array(#"{"type":"results","total":\#(answers)}"#.utf8)
            for c in connections.values where c.subscribed || broadcastAll {
                c.results = frame
                lws_callback_on_writable(c.wsi)
            }
        }
        schedule()
    }

    func schedule() {
        let sul = UnsafeMutableRawPointer(timer).assumingMemoryBound(to: lws_sorted_usec_list_t.self)
        lws_sul_schedule(context, 0, sul, floorTick, tickMicroseconds)
    }

    func write(_ c: Connection) -> Int32 {
        let bytes: [UInt8]
        if !c.replies.isEmpty {
            let s = c.replies.removeFirst()
            bytes = Array(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
        } else if let r = c.results {
            c.results = nil
            bytes = r
        } else {
            return 0
        }
        let start = buffer + Int(pollcast_lws_pre)
        bytes.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: bytes.count) }
        guard lws_write(c.wsi, start, bytes.count, LWS_WRITE_TEXT) >= 0 else { return -1 }
        if !c.replies.isEmpty || c.results != nil { lws_callback_on_writable(c.wsi) }
        return 0
    }
}

nonisolated(unsafe) let floor = Floor()

private func floorTick(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    floor.tick()
}

private func floorCallback(
    _ wsi: OpaquePointer?,
    _ reason: lws_callback_reasons,
    _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?,
    _ length: Int
) -> Int32 {
    switch reason {
    case LWS_CALLBACK_ESTABLISHED:
        let id = floor.nextID
        floor.nextID += 1
        user?.storeBytes(of: id, as: Int.self)
        var uri = [CChar](repeating: 0, count: 256)
        lws_hdr_copy(wsi, &uri, 256, WSI_TOKEN_GET_URI)
        var args = [CChar](repeating: 0, count: 256)
        lws_hdr_copy(wsi, &args, 256, WSI_TOKEN_HTTP_URI_ARGS)
        let query = args.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        floor.connections[id] = Floor.Connection(
            wsi: wsi!,
            subscribed: query.contains("role=screen") || query.contains("role=console")
        )
    case LWS_CALLBACK_RECEIVE:
        guard let c = floor.connections[user?.load(as: Int.self) ?? 0] else { return 0 }
        guard lws_is_final_fragment(wsi) != 0 else { return 0 }
        if c.greeted {
            floor.answers += 1
            c.replies.append(#"{"type":"ack"}"#)
        } else {
            c.greeted = true
            c.replies.append(#"{"type":"state"}"#)
        }
        lws_callback_on_writable(wsi)
    case LWS_CALLBACK_SERVER_WRITEABLE:
        guard let c = floor.connections[user?.load(as: Int.self) ?? 0] else { return 0 }
        return floor.write(c)
    case LWS_CALLBACK_CLOSED:
        floor.connections[user?.load(as: Int.self) ?? 0] = nil
    default:
        break
    }
    return 0
}

var port: Int32 = 0
nonisolated(unsafe) var useUV = true
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let a = arguments.next() {
    switch a {
    case "--port": port = Int32(arguments.next() ?? "0") ?? 0
    case "--tick-ms": floor.tickMicroseconds = (Int64(arguments.next() ?? "50") ?? 50) * 1000
    case "--all": floor.broadcastAll = true
    case "--loop": useUV = (arguments.next() ?? "uv") == "uv"
    default:
        FileHandle.standardError.write(
            Data("usage: pollcast-floor [--port N] [--tick-ms N] [--all] [--loop uv|poll]\n".utf8)
        )
        exit(2)
    }
}

var limit = rlimit()
getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)

lws_set_log_level(1, nil)
let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
protocols.initialize(
    to: lws_protocols(
        name: strdup("pollcast.v1"),
        callback: floorCallback,
        per_session_data_size: MemoryLayout<Int>.size,
        rx_buffer_size: 4096,
        id: 0,
        user: nil,
        tx_packet_size: 0
    )
)
(protocols + 1).initialize(to: lws_protocols())
var info = lws_context_creation_info()
info.port = port
info.iface = UnsafePointer(strdup("127.0.0.1"))
info.protocols = UnsafePointer(protocols)
info.gid = -1
info.uid = -1
info.vhost_name = UnsafePointer(strdup("default"))
// The same event loop as pollcast (a libuv loop lent to lws, or lws' own poll()).
let uvLoop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
var foreignLoops: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(uvLoop)]
if useUV {
    uv_loop_init(uvLoop)
    info.options |= UInt64(LWS_SERVER_OPTION_LIBUV)
}
let created = foreignLoops.withUnsafeMutableBufferPointer { loops in
    if useUV { info.foreign_loops = loops.baseAddress }
    return lws_create_context(&info)
}
guard let context = created else { fatalError("cannot create the floor's context") }
floor.context = context
floor.timer.initialize(to: pollcast_timer())
floor.schedule()
let boundPort = lws_get_vhost_listen_port(lws_get_vhost_by_name(context, "default"))
FileHandle.standardOutput.write(Data("floor listening on 127.0.0.1:\(boundPort)\n".utf8))
if useUV {
    uv_run(uvLoop, UV_RUN_DEFAULT)  // until the process is terminated
} else {
    while lws_service(context, 0) >= 0 {}
}
