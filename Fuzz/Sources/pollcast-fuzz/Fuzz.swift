// libFuzzer entry: the first byte picks what the rest is fed to, exactly as the server
// reads it; every result that passes validation is checked against the contract's rules.
// A broken rule is a crash, which libFuzzer reports with the input that caused it.
import Foundation
import PollcastCore
import PollcastServer

private func poll(_ type: PollType, options: Int = 0, maxChoices: Int = 1) -> Poll {
    var settings = PollSettings()
    settings.maxChoices = maxChoices
    return Poll(
        id: "p",
        owner: "o",
        type: type,
        title: "T",
        options: (0..<options).map { "o\($0)" },
        settings: settings,
        createdAt: 0
    )
}

private let polls = [
    poll(.choice, options: 4), poll(.choice, options: 26, maxChoices: 3), poll(.open), poll(.wordcloud),
]

private func require(_ condition: Bool, _ what: String) {
    if !condition { fatalError("broken rule: \(what)") }
}

/// Checks what `Answer.validated` accepted against the contract, and that it survives storage.
private func check(_ answer: Answer, for poll: Poll) {
    switch answer {
    case .choices(let c):
        require(!c.isEmpty && c.count <= poll.settings.maxChoices, "choice count")
        require(c == c.sorted() && Set(c).count == c.count, "choices sorted and distinct")
        require(c.allSatisfy { poll.options.indices.contains($0) }, "choices in range")
    case .text(let t):
        requireWithin(TextLimits.answerText, t)
    case .words(let w):
        require(Answer.wordsPerAnswer.contains(w.count) && Set(w).count == w.count, "word count")
        for word in w { requireWithin(TextLimits.word, word) }
        require(w.allSatisfy { $0 == $0.lowercased() }, "words are folded")
    }
    require(Answer(storageText: answer.storageText, for: poll) == answer, "storage round trip")
}

/// A text that passed `limit` keeps it in characters and bytes, is trimmed, holds no
/// control character, and its JSON is no larger than `JSONSize` says.
private func requireWithin(_ limit: TextLimit, _ text: String) {
    require(limit.characters.contains(text.count), "\(limit.name): characters")
    require(text.utf8.count <= limit.maxBytes, "\(limit.name): bytes")
    require(text == text.trimmedWhitespace, "\(limit.name): trimmed")
    require(
        !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) },
        "\(limit.name): no control characters"
    )
    require(limit.allowsNewlines || !text.contains("\n"), "\(limit.name): one line")
    let encoded = (try? JSONEncoder().encode(text))?.count ?? Int.max
    require(encoded <= JSONSize.of(text), "\(limit.name): JSONSize is an upper bound")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0:
        // A WebSocket text frame from a participant.
        guard case .success(let frame) = WireDecoding.clientFrame(bytes) else { return 0 }
        if let id = frame.participant, ParticipantID.isAcceptable(id) {
            require(ParticipantID.length.contains(id.unicodeScalars.count), "participant id length")
        }
        for p in polls {
            if let answer = try? Answer.validated(choices: frame.choices, text: frame.text, words: frame.words, for: p)
            {
                check(answer, for: p)
            }
        }
    case 1:
        // POST /api/polls and PATCH /api/polls/{id} bodies.
        guard let input = try? WireDecoding.body(PollInput.self, bytes) else { return 0 }
        let base = poll(input.type ?? .choice)
        guard let made = try? input.applied(to: base) else { return 0 }
        requireWithin(TextLimits.title, made.title)
        for option in made.options { requireWithin(TextLimits.option, option) }
        if made.type == .choice {
            require(PollLimits.choiceOptions.contains(made.options.count), "option count")
            require((1...made.options.count).contains(made.settings.maxChoices), "maxChoices")
        } else {
            require(made.options.isEmpty, "no options outside choice polls")
        }
    case 2:
        // The HTTP answer body.
        struct Body: Decodable {
            var participant: String
            var poll: String
            var choices: [Int]?
            var text: String?
            var words: [String]?
        }
        guard let body = try? WireDecoding.body(Body.self, bytes) else { return 0 }
        for p in polls {
            if let answer = try? Answer.validated(choices: body.choices, text: body.text, words: body.words, for: p) {
                check(answer, for: p)
            }
        }
    case 3:
        // The HTTP head: lines are Host, then Transfer-Encoding (when it starts with "t"),
        // then Content-Length values, as lws hands them over.
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let host = lines.first.map(String.init)
        let rest = lines.dropFirst()
        let transfer = rest.first.flatMap { $0.hasPrefix("t") ? String($0) : nil }
        let lengths = rest.dropFirst(transfer == nil ? 0 : 1).map(String.init)
        switch WireDecoding.bodyLength(contentLength: lengths, transferEncoding: transfer) {
        case .success(let n?):
            require(transfer == nil && n >= 0, "a length only without Transfer-Encoding")
            let values = lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            require(values.allSatisfy { Int($0.trimmingCharacters(in: [" ", "\t"])) == n }, "every length agrees")
        case .success(nil):
            require(transfer == nil && lengths.isEmpty, "no body only without framing headers")
        case .failure:
            break
        }
        if let clean = WireDecoding.host(host) {
            require(clean.utf8.count <= 255, "host length")
            require(
                clean.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) },
                "a host holds only host characters"
            )
        }
    default:
        // Cookie headers and room names.
        let text = String(decoding: bytes, as: UTF8.self)
        if let value = WireDecoding.cookie("pollcast_session", in: text) {
            require(value == value.trimmedWhitespace && !value.contains(";"), "cookie value shape")
        }
        if Username.isValid(text) { require((3...32).contains(text.utf8.count), "username length") }
    }
    return 0
}

// SwiftPM links an executable's entry as `<module>_main`; hand the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("pollcast_fuzz_main")
public func fuzzMain(
    _ argc: Int32,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzz($0, $1) }
}
