import CQRencode
import PollcastCore

/// The QR code of a room's join address as SVG, drawn from libqrencode's modules.
enum JoinQRCode {
    /// An SVG of `text` with a quiet zone of 4 modules; nil if libqrencode refuses it.
    static func svg(for text: String) -> String? {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let modules = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        let quiet = 4
        let size = width + 2 * quiet
        var path = ""
        for y in 0..<width {
            var x = 0
            while x < width {
                // Bit 0 of each module byte is "dark"; runs of dark modules become one rectangle.
                guard modules[y * width + x] & 1 == 1 else {
                    x += 1
                    continue
                }
                let start = x
                while x < width && modules[y * width + x] & 1 == 1 { x += 1 }
                path += "M\(start + quiet) \(y + quiet)h\(x - start)v1h-\(x - start)z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(size) \(size)" shape-rendering="crispEdges">\
            <rect width="\(size)" height="\(size)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }
}
