/// Text for XML content and attributes (TwiML replies, slides, chart images): the five
/// special characters escaped, and what XML 1.0 cannot hold at all (C0 controls other
/// than tab and newline, U+FFFE, U+FFFF) left out, so a reader never refuses the file.
func xml(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n": continue
        case _ where (0xFFFE...0xFFFF).contains(scalar.value): continue
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
