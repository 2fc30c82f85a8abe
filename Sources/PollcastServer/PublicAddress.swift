import Foundation

/// The address an audience types or scans to reach this server: what the screen shows,
/// what the QR code says and what printed login links start with. Never taken from a
/// request's Host header: the teacher's own browser may well be on `localhost`.
public enum PublicAddress {
    /// An operator's `--public-url` as `scheme://host[:port]` (lower case, no trailing
    /// slash), or nil when it is anything else. It goes into QR codes, pages and printed
    /// links, so only a plain host name, IPv4 or bracketed IPv6 address and a port pass:
    /// no user info, query, fragment or percent-escape (a decoded `%2F` or `%0a` could
    /// smuggle a path or a line break in), and no path, since the pages load `/static`,
    /// `/api` and `/ws` from the root and would not work under a prefix.
    public static func normalized(_ raw: String) -> String? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let authority = String(text[separator.upperBound...])
        guard !authority.isEmpty, !authority.contains("%"), !authority.contains("/"),
            let host = WireDecoding.host(authority)
        else { return nil }
        return "\(scheme)://\(host)"
    }

    /// The address to show when the operator gave none: the interface the server is bound
    /// to, else the machine's first non-loopback address, else its host name. The second
    /// value says why, for the start-up line.
    public static func guessed(boundHost: String?, port: Int, secure: Bool) -> (url: String, reason: String) {
        let scheme = secure ? "https" : "http"
        let shownPort = port == (secure ? 443 : 80) ? "" : ":\(port)"
        func url(_ host: String) -> String {
            "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(shownPort)"
        }
        if let bound = boundHost, !bound.isEmpty, bound != "0.0.0.0", bound != "::" {
            let loopback = bound == "localhost" || bound.hasPrefix("127.") || bound == "::1"
            return (
                url(bound),
                loopback
                    ? "listening on loopback only: phones cannot reach it (use --host 0.0.0.0 and --public-url)"
                    : "the interface given with --host"
            )
        }
        if let address = machineAddresses().first {
            return (url(address), "the machine's network address; set --public-url to show another")
        }
        return (url(hostName()), "no network address found, showing the host name; set --public-url")
    }

    /// Non-loopback, non-link-local addresses of interfaces that are up: IPv4 first
    /// (what a phone on classroom Wi-Fi reaches), private ranges before public ones.
    static func machineAddresses() -> [String] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0, let first else { return [] }
        defer { freeifaddrs(first) }
        var v4: [String] = []
        var v6: [String] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            let flags = Int32(entry.pointee.ifa_flags)
            guard let address = entry.pointee.ifa_addr, flags & Int32(IFF_UP) != 0,
                flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else {
                continue
            }
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if family == AF_INET, !text.hasPrefix("169.254.") {
                v4.append(text)
            } else if family == AF_INET6, !text.lowercased().hasPrefix("fe80"), !text.contains("%") {
                v6.append(text)
            }
        }
        let isPrivate = { (a: String) in
            a.hasPrefix("10.") || a.hasPrefix("192.168.")
                || (a.hasPrefix("172.") && (16...31).contains(Int(a.split(separator: ".")[1]) ?? 0))
        }
        return v4.filter(isPrivate) + v4.filter { !isPrivate($0) } + v6
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "pollcast" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "pollcast" : name
    }
}
