#if canImport(Glibc)
import Glibc
#endif

/// A reverse proxy pollcast trusts to say who the client is (`--trusted-proxy`): one
/// address, or an IPv4 block such as 172.16.0.0/12 (a container network, where the
/// proxy's address is not known in advance).
public struct ProxyRange: Sendable, Equatable {
    private let address: String
    /// For an IPv4 block: the network and its mask, host byte order.
    private let network: UInt32?
    private let mask: UInt32

    /// Parses `192.0.2.7`, `2001:db8::1` or `172.16.0.0/12`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard let bits = UInt32(parts[1]), bits <= 32, let base = Self.ipv4(String(parts[0])) else { return nil }
            mask = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            network = base & mask
            address = text
        } else {
            guard parts.count == 1, Self.isAddress(text) else { return nil }
            address = text
            network = nil
            mask = 0
        }
    }

    public func contains(_ peer: String) -> Bool {
        if let network {
            // An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is the IPv4 address.
            let v4 = peer.hasPrefix("::ffff:") ? String(peer.dropFirst(7)) : peer
            guard let value = Self.ipv4(v4) else { return false }
            return value & mask == network
        }
        return peer == address || peer == "::ffff:" + address
    }

    static func ipv4(_ text: String) -> UInt32? {
        var value = in_addr()
        guard inet_pton(AF_INET, text, &value) == 1 else { return nil }
        return UInt32(bigEndian: value.s_addr)
    }

    public static func isAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
