import COpenSSL
import Foundation

/// OpenSSL's libcrypto, wrapped once: a CSPRNG, SHA-256, PBKDF2 and a constant-time compare.
public enum Crypto {
    /// PBKDF2-HMAC-SHA256 iterations for new passwords (OWASP's 2023 figure).
    public static let passwordIterations = 600_000

    /// `count` bytes from OpenSSL's CSPRNG. Traps if it fails: no fallback is safe.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let rc = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(rc == 1, "OpenSSL RAND_bytes failed")
        return bytes
    }

    /// A URL-safe random token carrying `bytes` x 8 bits.
    public static func randomToken(bytes: Int = 32) -> String {
        base64URL(randomBytes(bytes))
    }

    public static func sha256(_ text: String) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let bytes = Array(text.utf8)
        let rc = bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        precondition(rc == 1 && length == 32, "OpenSSL EVP_Digest failed")
        return digest
    }

    /// Every byte of the password counts, a NUL included (C's strlen would stop there).
    public static func pbkdf2(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        let bytes = Array(password.utf8)
        let rc = bytes.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                key.withUnsafeMutableBufferPointer { k in
                    pw.withMemoryRebound(to: CChar.self) { pw in
                        PKCS5_PBKDF2_HMAC(
                            pw.baseAddress,
                            Int32(pw.count),
                            s.baseAddress,
                            Int32(s.count),
                            Int32(iterations),
                            EVP_sha256(),
                            32,
                            k.baseAddress
                        )
                    }
                }
            }
        }
        precondition(rc == 1, "OpenSSL PKCS5_PBKDF2_HMAC failed")
        return key
    }

    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], _ message: String) -> [UInt8] {
        hmac(EVP_sha256(), size: 32, key: key, message)
    }

    /// HMAC-SHA1 of `message` under `key`: only for checking Twilio's request signatures,
    /// which are defined with it.
    public static func hmacSHA1(key: [UInt8], _ message: String) -> [UInt8] {
        hmac(EVP_sha1(), size: 20, key: key, message)
    }

    /// OpenSSL's one-shot HMAC with digest `md`, whose output is `size` bytes.
    private static func hmac(_ md: OpaquePointer?, size: Int, key: [UInt8], _ message: String) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        let bytes = Array(message.utf8)
        let result = key.withUnsafeBufferPointer { k in
            bytes.withUnsafeBufferPointer { m in
                mac.withUnsafeMutableBufferPointer { out in
                    HMAC(md, k.baseAddress, Int32(k.count), m.baseAddress, m.count, out.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && Int(length) == size, "OpenSSL HMAC failed")
        return mac
    }

    /// SipHash-2-4 (Aumasson and Bernstein): a keyed pseudorandom function of 64 bits,
    /// about a hundred times cheaper than OpenSSL 3's one-shot HMAC (which fetches its
    /// algorithm on every call); fit for keying ids on the answer path.
    public static func sipHash24(key: (UInt64, UInt64), _ bytes: some Collection<UInt8>) -> UInt64 {
        var v0: UInt64 = key.0 ^ 0x736f_6d65_7073_6575
        var v1: UInt64 = key.1 ^ 0x646f_7261_6e64_6f6d
        var v2: UInt64 = key.0 ^ 0x6c79_6765_6e65_7261
        var v3: UInt64 = key.1 ^ 0x7465_6462_7974_6573
        func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        func round() {
            v0 &+= v1
            v1 = rotl(v1, 13) ^ v0
            v0 = rotl(v0, 32)
            v2 &+= v3
            v3 = rotl(v3, 16) ^ v2
            v0 &+= v3
            v3 = rotl(v3, 21) ^ v0
            v2 &+= v1
            v1 = rotl(v1, 17) ^ v2
            v2 = rotl(v2, 32)
        }
        var word: UInt64 = 0
        var count = 0
        for byte in bytes {
            word |= UInt64(byte) << (8 * UInt64(count % 8))
            count += 1
            if count % 8 == 0 {
                v3 ^= word
                round()
                round()
                v0 ^= word
                word = 0
            }
        }
        let last = word | (UInt64(count & 0xff) << 56)
        v3 ^= last
        round()
        round()
        v0 ^= last
        v2 ^= 0xff
        for _ in 0..<4 { round() }
        return v0 ^ v1 ^ v2 ^ v3
    }

    /// Compares without an early exit, so timing does not tell how much matched.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count, !a.isEmpty else { return false }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 }
        }
    }

    /// Base64url without padding (RFC 4648 section 5).
    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
