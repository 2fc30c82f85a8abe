import CQRencode
import PollcastApp
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
