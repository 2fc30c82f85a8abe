import CQRencode
import PollcastCore

/// The QR code of a room's join address as SVG (pages) or PNG (slides), drawn from
/// libqrencode's modules.
enum JoinQRCode {
    /// The dark modules of `text`'s code, row by row, and its width; nil if libqrencode refuses it.
    static func modules(for text: String) -> (width: Int, dark: [Bool])? {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        // Bit 0 of each module byte is "dark".
        let dark = UnsafeBufferPointer(start: code.pointee.data, count: width * width).map { $0 & 1 == 1 }
        return (width, dark)
    }

    /// A grayscale PNG of `text`'s code, `scale` pixels a module, with a quiet zone of 4.
    static func png(for text: String, scale: Int = 8) -> [UInt8]? {
        guard let (width, dark) = modules(for: text) else { return nil }
        let quiet = 4
        let side = (width + 2 * quiet) * scale
        var rows: [UInt8] = []
        rows.reserveCapacity((side + 1) * side)
        for y in 0..<side {
            rows.append(0)  // filter: none
            let my = y / scale - quiet
            for x in 0..<side {
                let mx = x / scale - quiet
                let isDark = (0..<width).contains(mx) && (0..<width).contains(my) && dark[my * width + mx]
                rows.append(isDark ? 0 : 255)
            }
        }
        return PNGFile.grayscale(width: side, height: side, rows: rows)
    }

    /// An SVG of `text` with a quiet zone of 4 modules; nil if libqrencode refuses it.
    static func svg(for text: String) -> String? {
        guard let (width, modules) = modules(for: text) else { return nil }
        let quiet = 4
        let size = width + 2 * quiet
        var path = ""
        for y in 0..<width {
            var x = 0
            while x < width {
                // Runs of dark modules become one rectangle.
                guard modules[y * width + x] else {
                    x += 1
                    continue
                }
                let start = x
                while x < width && modules[y * width + x] { x += 1 }
                path += "M\(start + quiet) \(y + quiet)h\(x - start)v1h-\(x - start)z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(size) \(size)" shape-rendering="crispEdges">\
            <rect width="\(size)" height="\(size)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }
}

/// The smallest PNG writer that serves: 8-bit grayscale, the image data in stored
/// (uncompressed) deflate blocks. A QR code of a join address is a few hundred pixels.
enum PNGFile {
    static func grayscale(width: Int, height: Int, rows: [UInt8]) -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // 8 bits, grayscale, deflate, no filter method, no interlace
        png += chunk("IHDR", header)
        png += chunk("IDAT", zlibStored(rows))
        png += chunk("IEND", [])
        return png
    }

    private static func chunk(_ kind: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(kind.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// A zlib stream of stored blocks (at most 65,535 bytes each) and its Adler-32.
    private static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65_535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return out + bigEndian(b << 16 | a)
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { crc, byte in crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }
}
