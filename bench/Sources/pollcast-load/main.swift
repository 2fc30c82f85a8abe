// pollcast-load: the classroom-burst load generator. Starts the floor and/or pollcast
// on 127.0.0.1, runs one scenario against each, prints a table and a RESULT line.
import Foundation
import Histogram

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A server process under test, with what /proc says about it.
final class ServerUnderTest {
    let process = Process()
    var port = 0

    init(_ path: String, _ arguments: [String], readyPrefix: String) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var seen = ""
        while !seen.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw Failure("\(path) exited: \(seen)") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        guard seen.hasPrefix(readyPrefix),
            let p = seen.split(separator: "\n")[0].split(separator: ":").last.flatMap({ Int($0) })
        else { throw Failure("unexpected first line from \(path): \(seen)") }
        port = p
    }

    /// User plus system CPU seconds so far.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func status(_ key: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") })
        else { return 0 }
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A blocking JSON request (setup only, not measured).
func request(
    _ method: String,
    _ url: String,
    token: String? = nil,
    _ body: [String: Any]? = nil
) throws -> [String: Any] {
    var req = URLRequest(url: URL(string: url)!)
    req.httpMethod = method
    if let token { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    req.httpBody = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: (Data?, Error?) = (nil, nil)
    URLSession.shared.dataTask(with: req) { data, _, error in
        result = (data, error)
        done.signal()
    }.resume()
    done.wait()
    if let error = result.1 { throw error }
    return (try? JSONSerialization.jsonObject(with: result.0 ?? Data())) as? [String: Any] ?? [:]
}

/// A counter from the server's /metrics (pollcast only), or nil.
func metric(_ name: String, port: Int) -> Double? {
    guard let url = URL(string: "http://127.0.0.1:\(port)/metrics"),
        let text = try? String(contentsOf: url, encoding: .utf8)
    else { return nil }
    return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
        Double($0.split(separator: " ")[1])
    }
}

struct Measured {
    var outcome: LoadRun.Outcome
    var cpu: Double
    var peakRSSKB: Double
    var endRSSKB: Double
    var rssPerConnectionKB: Double
    var storm = false
    /// The server's ticks during the run and how many of them it skipped (pollcast only).
    var ticks: Double?
    var ticksSkipped: Double?
}

func measure(
    _ scenario: Scenario,
    target: String,
    binary: String,
    tickMs: Int,
    loop: String,
    durability: String,
    stalled: Int = 0
) throws -> Measured {
    let connections = scenario.participants + scenario.screens + scenario.consoles
    let server: ServerUnderTest
    var poll: String?
    var token: String?
    if target == "floor" {
        var args = ["--port", "0", "--tick-ms", String(tickMs), "--loop", loop]
        if scenario.resultsToParticipants { args.append("--all") }
        server = try ServerUnderTest(binary, args, readyPrefix: "floor listening")
    } else {
        let data = NSTemporaryDirectory() + "pollcast-bench-" + UUID().uuidString
        let add = Process()
        add.executableURL = URL(fileURLWithPath: binary)
        add.arguments = ["user", "add", "bench", "--password", "bench password", "--data", data]
        add.standardOutput = FileHandle.nullDevice
        try add.run()
        add.waitUntilExit()
        server = try ServerUnderTest(
            binary,
            [
                "serve", "--port", "0", "--host", "127.0.0.1", "--data", data, "--tick-ms", String(tickMs),
                "--durability", durability,
            ],
            readyPrefix: "pollcast listening"
        )
        let base = "http://127.0.0.1:\(server.port)"
        token =
            try request("POST", base + "/api/login", ["username": "bench", "password": "bench password"])["token"]
            as? String
        let created = try request(
            "POST",
            base + "/api/polls",
            token: token,
            [
                "type": scenario.openPoll ? "open" : "choice", "title": "Vote now",
                "options": scenario.openPoll ? [] : ["A", "B", "C"],
                "settings": ["showResultsToParticipants": scenario.resultsToParticipants],
            ]
        )
        poll = created["id"] as? String
        guard let poll else { throw Failure("could not create the poll: \(created)") }
        _ = try request("POST", base + "/api/polls/\(poll)/activate", token: token)
    }
    defer { server.stop() }
    let rssBefore = server.status("VmRSS")
    let answering = scenario.answering ?? scenario.participants
    let expected = target == "floor" ? answering * scenario.answersEach : answering
    let run = LoadRun(
        scenario: scenario,
        port: server.port,
        room: "bench",
        poll: poll,
        token: token,
        target: target,
        expectedTotal: expected,
        tickMilliseconds: tickMs
    )
    run.probe = {
        let fds =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.process.processIdentifier)/fd").count)
            ?? 0
        return (fds, server.status("VmRSS"))
    }
    var cpuAtVote = 0.0
    var rssConnected = 0.0
    run.onVoteStart = {
        cpuAtVote = server.cpuSeconds
        rssConnected = server.status("VmRSS")
    }
    // pollcast only: the floor serves no HTTP, and a request to it stalls the run.
    let metrics = target == "pollcast"
    let ticksBefore = metrics ? metric("pollcast_ticks_total", port: server.port) : nil
    let skippedBefore = metrics ? metric("pollcast_ticks_skipped_total", port: server.port) : nil
    let outcome = run.run()
    let ticks = metrics ? metric("pollcast_ticks_total", port: server.port).map { $0 - (ticksBefore ?? 0) } : nil
    let skipped =
        metrics ? metric("pollcast_ticks_skipped_total", port: server.port).map { $0 - (skippedBefore ?? 0) } : nil
    if scenario.reconnectStorm { storms[target] = run.stormFigures }
    return Measured(
        outcome: outcome,
        cpu: server.cpuSeconds - cpuAtVote,
        peakRSSKB: server.status("VmHWM"),
        endRSSKB: server.status("VmRSS"),
        rssPerConnectionKB: (rssConnected - rssBefore) / Double(max(connections, 1)),
        storm: scenario.reconnectStorm,
        ticks: ticks,
        ticksSkipped: skipped
    )
}

func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }

func row(_ name: String, _ values: [Double?], ratio: Bool = true) -> String {
    let cells = values.map { $0.map { String(format: "%10.2f", $0) } ?? String(repeating: " ", count: 9) + "-" }
    var line = name.padding(toLength: 26, withPad: " ", startingAt: 0) + cells.joined(separator: " ")
    if ratio, values.count == 2, let a = values[0], let b = values[1], a != 0 {
        line += String(format: "   %6.2fx", b / a)
    }
    return line
}

func figures(_ m: Measured) -> [String: Any] {
    let o = m.outcome
    var f: [String: Any] = [
        "answers": o.answers, "acked": o.acked, "errors": o.errors, "dropped": o.dropped,
        "answers_per_s": o.answersPerSecond, "ack_p50_ms": ms(o.ack.valueAtPercentile(50)),
        "ack_p99_ms": ms(o.ack.valueAtPercentile(99)), "ack_max_ms": ms(o.ack.max),
        "delivery_p50_ms": ms(o.delivery.valueAtPercentile(50)),
        "delivery_p99_ms": ms(o.delivery.valueAtPercentile(99)),
        "screen_delivery_p99_ms": ms(o.screenDelivery.valueAtPercentile(99)),
        "frames_per_s": o.framesPerSecond, "server_cpu_s": m.cpu, "peak_rss_mb": m.peakRSSKB / 1024,
        "connect_s": o.connectSeconds, "complete": o.complete,
    ]
    // After a storm of reconnects the RSS difference says nothing per connection
    // (freed pages, allocator caches); the storm reports RSS at each stage instead.
    if !m.storm { f["rss_per_connection_kb"] = m.rssPerConnectionKB }
    if let t = m.ticks { f["ticks"] = t }
    if let t = m.ticksSkipped { f["ticks_skipped"] = t }
    if let c = o.cadence {
        f["cadence_expected_frames"] = c.expected
        f["cadence_median_frames"] = c.median
        f["cadence_lowest_frames"] = c.low
        f["cadence_highest_frames"] = c.high
    }
    if let s = o.settleMilliseconds { f["settle_ms"] = s }
    return f
}

// MARK: Arguments

nonisolated(unsafe) var storms: [String: LoadRun.StormFigures] = [:]

var scenarioName = "lecture"
var target = "both"
var tickMs = 50
var loop = "uv"
var participants: Int?
var durability = "full"
// bench/.build/<triple>/release/pollcast-load: the repository is four levels up.
let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
var serverBinary = here.appendingPathComponent("../../../../.build/release/pollcast").standardized.path
var floorBinary = here.appendingPathComponent("pollcast-floor").path
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--target": target = args.next() ?? target
    case "--tick-ms": tickMs = Int(args.next() ?? "") ?? tickMs
    case "--loop": loop = args.next() ?? loop
    case "--participants": participants = Int(args.next() ?? "")
    case "--durability": durability = args.next() ?? durability
    case "--server": serverBinary = args.next() ?? serverBinary
    case "--floor": floorBinary = args.next() ?? floorBinary
    case "-h", "--help":
        print(
            "usage: pollcast-load [\(Scenario.all.keys.sorted().joined(separator: "|"))] [--target pollcast|floor|both]"
        )
        print("       [--participants N] [--tick-ms 50] [--loop uv|poll] [--durability full|fast]")
        print("       [--server PATH] [--floor PATH]")
        exit(0)
    default:
        guard Scenario.all[a] != nil else {
            FileHandle.standardError.write(Data("unknown scenario \(a)\n".utf8))
            exit(2)
        }
        scenarioName = a
    }
}
var scenario = Scenario.all[scenarioName]!
if let participants { scenario.participants = participants }

var limit = rlimit()
getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)

if scenario.stalled > 0 {
    // The same pollcast run without and with screens that stop reading.
    let calm = try measure(
        scenario,
        target: "pollcast",
        binary: serverBinary,
        tickMs: tickMs,
        loop: loop,
        durability: durability
    )
    let stall = try measure(
        scenario,
        target: "pollcast",
        binary: serverBinary,
        tickMs: tickMs,
        loop: loop,
        durability: durability,
        stalled: scenario.stalled
    )
    print(
        "\nscenario stall: \(scenario.participants) participants answer an open poll with long texts over "
            + "\(scenario.window) s, \(scenario.screens) screens; then again with \(scenario.stalled) screen(s) that stop reading"
    )
    print("".padding(toLength: 26, withPad: " ", startingAt: 0) + "no stall     stalled     stalled/no stall")
    let pair = [calm, stall]
    print(row("ack p99 ms", pair.map { ms($0.outcome.ack.valueAtPercentile(99)) }))
    print(row("screen delivery p99 ms", pair.map { ms($0.outcome.screenDelivery.valueAtPercentile(99)) }))
    print(row("server CPU s", pair.map { $0.cpu }))
    print(row("peak RSS MB", pair.map { $0.peakRSSKB / 1024 }))
    print(row("RSS at the end MB", pair.map { $0.endRSSKB / 1024 }))
    print(row("errors", pair.map { Double($0.outcome.errors) }, ratio: false))
    var line: [String: Any] = ["scenario": "stall", "participants": scenario.participants, "loop": loop]
    line["no_stall"] = figures(calm)
    line["stalled"] = figures(stall)
    print(
        "RESULT "
            + String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
    )
    exit(pair.allSatisfy { $0.outcome.complete && $0.outcome.errors == 0 && $0.outcome.dropped == 0 } ? 0 : 1)
}

let targets = target == "both" ? ["floor", "pollcast"] : [target]
var results: [String: Measured] = [:]
for t in targets {
    results[t] = try measure(
        scenario,
        target: t,
        binary: t == "floor" ? floorBinary : serverBinary,
        tickMs: tickMs,
        loop: loop,
        durability: durability
    )
}

print(
    "\nscenario \(scenario.name): \(scenario.participants) participants x \(scenario.answersEach) answers, "
        + "\(scenario.screens) screens, \(scenario.consoles) consoles, window \(scenario.window) s, tick \(tickMs) ms, "
        + "\(loop) loop"
        + (scenario.resultsToParticipants ? ", results to every participant" : "")
)
print(
    "".padding(toLength: 26, withPad: " ", startingAt: 0)
        + targets.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined(separator: " ")
        + (targets.count == 2 ? "   pollcast/floor" : "")
)
let ordered = targets.map { results[$0]! }
func column(_ f: (Measured) -> Double?) -> [Double?] { ordered.map(f) }
if !scenario.reconnectStorm {
    print(row("answers/s (acked)", column { $0.outcome.answersPerSecond }))
    print(row("ack p50 ms", column { ms($0.outcome.ack.valueAtPercentile(50)) }))
    print(row("ack p99 ms", column { ms($0.outcome.ack.valueAtPercentile(99)) }))
    print(row("ack max ms", column { ms($0.outcome.ack.max) }))
    print(row("settle ms after last ack", column { $0.outcome.settleMilliseconds }, ratio: false))
    print(row("delivery p50 ms", column { ms($0.outcome.delivery.valueAtPercentile(50)) }))
    print(row("delivery p99 ms", column { ms($0.outcome.delivery.valueAtPercentile(99)) }))
    print(row("frames/s received", column { $0.outcome.framesPerSecond }))
}
if scenario.answering != nil {
    print("\nresults frames per watcher while answers were sent (one per tick expected)")
    print(row("expected (duration/tick)", column { $0.outcome.cadence?.expected }, ratio: false))
    print(row("median", column { ($0.outcome.cadence?.median).map(Double.init) }, ratio: false))
    print(row("lowest", column { ($0.outcome.cadence?.low).map(Double.init) }, ratio: false))
    print(row("highest", column { ($0.outcome.cadence?.high).map(Double.init) }, ratio: false))
    print(row("server ticks (whole run)", column { $0.ticks }, ratio: false))
    print(row("server ticks skipped", column { $0.ticksSkipped }, ratio: false))
    print(
        row(
            "median / expected",
            column { m in m.outcome.cadence.map { Double($0.median) / max($0.expected, 1e-9) } },
            ratio: false
        )
    )
}
print(row("server CPU s", column { $0.cpu }))
print(row("peak RSS MB", column { $0.peakRSSKB / 1024 }))
if !scenario.reconnectStorm { print(row("RSS per connection KB", column { $0.rssPerConnectionKB })) }
print(row("errors", column { Double($0.outcome.errors) }, ratio: false))
print(row("dropped connections", column { Double($0.outcome.dropped) }, ratio: false))
var line: [String: Any] = [
    "scenario": scenario.name, "participants": scenario.participants, "tick_ms": tickMs, "loop": loop,
]
for t in targets { line[t] = figures(results[t]!) }
var stormOK = true
if scenario.reconnectStorm {
    print("\nreconnect storm: \(scenario.participants) participants dropped at once and reconnected")
    print(
        "".padding(toLength: 26, withPad: " ", startingAt: 0)
            + targets.map { $0.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined(separator: " ")
    )
    let st = targets.map { storms[$0]! }
    print(row("reconnect all s", st.map { $0.reconnectSeconds }))
    print(row("reconnected", st.map { Double($0.reconnectedCount) }, ratio: false))
    print(row("fds before any", st.map { Double($0.baseline.fds) }, ratio: false))
    print(row("fds connected", st.map { Double($0.connected.fds) }, ratio: false))
    print(row("fds after close", st.map { Double($0.afterClose.fds) }, ratio: false))
    print(row("RSS MB connected", st.map { $0.connected.rssKB / 1024 }, ratio: false))
    print(row("RSS MB reconnected", st.map { $0.reconnected.rssKB / 1024 }, ratio: false))
    print(row("RSS MB after close", st.map { $0.afterClose.rssKB / 1024 }, ratio: false))
    for (t, f) in zip(targets, st) {
        var l = line[t] as? [String: Any] ?? [:]
        l["reconnect_s"] = f.reconnectSeconds
        l["reconnected"] = f.reconnectedCount
        l["fds_before"] = f.baseline.fds
        l["fds_after_close"] = f.afterClose.fds
        l["rss_connected_mb"] = f.connected.rssKB / 1024
        l["rss_reconnected_mb"] = f.reconnected.rssKB / 1024
        line[t] = l
        // No leak: every descriptor is given back, and a second full cycle does not grow memory.
        if f.reconnectedCount != scenario.participants || f.afterClose.fds > f.baseline.fds
            || f.reconnected.rssKB > f.connected.rssKB * 1.15 + 1024
        {
            stormOK = false
        }
    }
}
let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
print("RESULT " + String(decoding: json, as: UTF8.self))
let ok = stormOK && ordered.allSatisfy { $0.outcome.complete && $0.outcome.errors == 0 && $0.outcome.dropped == 0 }
exit(ok ? 0 : 1)
