/// Replies waiting to be written, oldest first, and how many bytes they hold (the
/// session's high-water mark is checked against it). Taking the first is O(1): a
/// read index moves, and the array is compacted only once half of it has been read.
struct ReplyQueue {
    private var frames: [[UInt8]] = []
    private var head = 0
    private(set) var bytes = 0

    var isEmpty: Bool { head == frames.count }

    mutating func append(_ frame: [UInt8]) {
        frames.append(frame)
        bytes += frame.count
    }

    mutating func popFirst() -> [UInt8]? {
        guard head < frames.count else { return nil }
        let frame = frames[head]
        frames[head] = []
        head += 1
        bytes -= frame.count
        if head == frames.count {
            frames.removeAll(keepingCapacity: frames.count <= 64)
            head = 0
        } else if head >= 64 && head * 2 >= frames.count {
            frames = Array(frames[head...])
            head = 0
        }
        return frame
    }

    mutating func removeAll() {
        frames = []
        head = 0
        bytes = 0
    }
}
