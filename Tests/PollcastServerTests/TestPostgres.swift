import Foundation
import PollcastApp
import PollcastCore
import XCTest

/// A real PostgreSQL server for the tests, started in a temporary folder by
/// scripts/postgres-temp.sh on first use (the test command's install step provides
/// PostgreSQL) and stopped when the test process exits. Each caller gets a database
/// of its own.
enum TestPostgres {
    private static let server = Locked<(url: String, folder: String)?>(nil)

    /// One server for the class; each test gets a database of its own.
    /// A fresh database on the shared server (started on first use, stopped at exit).
    static func database() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/postgres-temp.sh").path
        guard FileManager.default.fileExists(atPath: "/usr/lib/postgresql") else {
            throw XCTSkip("PostgreSQL is not installed: run ./scripts/install-deps.sh --test")
        }
        let base = try Self.server.withLock { server -> String in
            if let server { return server.url }
            // A port the kernel says is free (another test may take it before PostgreSQL
            // binds it: then once more with another).
            var started: (url: String, folder: String)?
            for _ in 0..<3 where started == nil {
                let folder = NSTemporaryDirectory() + "pollcast-pg-" + UUID().uuidString
                do {
                    let url = try Self.run(script, ["start", folder, "\(try Self.freePort())"])
                    started = (url.trimmingCharacters(in: .whitespacesAndNewlines), folder)
                } catch {
                    try? FileManager.default.removeItem(atPath: folder)
                }
            }
            guard let started else { throw StoreError(code: -1, message: "PostgreSQL did not start (3 tries)") }
            server = started
            let url = started.url
            atexit {
                if let folder = TestPostgres.server.withLock({ $0?.folder }) {
                    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                        .deletingLastPathComponent()
                    _ = try? TestPostgres.run(
                        root.appendingPathComponent("scripts/postgres-temp.sh").path,
                        ["stop", folder]
                    )
                    try? FileManager.default.removeItem(atPath: folder)
                }
            }
            return url
        }
        let name = "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        _ = try Self.run("/usr/bin/psql", [base, "-q", "-c", "CREATE DATABASE \(name)"])
        // The address names the database last: .../pollcast becomes .../<name>.
        return base.dropLast("pollcast".count) + name
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StoreError(code: -1, message: "no socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw StoreError(code: -1, message: "cannot bind a port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a command and returns what it printed (popen: Foundation's Process hung in
    /// waitUntilExit here after the script's server detached).
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let quoted = ([path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        guard let pipe = popen(quoted.joined(separator: " "), "r") else {
            throw StoreError(code: -1, message: "cannot run \(path)")
        }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, pipe)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        let status = pclose(pipe)
        guard status == 0 else { throw StoreError(code: -1, message: "\(path) \(arguments) exited \(status)") }
        return String(decoding: output, as: UTF8.self)
    }
}
