/// Places intermediate values in one buffer: values whose lifetimes (first write to last
/// read, in steps) overlap get disjoint byte ranges; others may share. Greedy by size,
/// lowest fitting offset first.
enum ArenaPlanner {
    struct Request {
        var bytes: Int
        var first: Int
        var last: Int
    }

    static let alignment = 64

    /// Offsets for each request and the total size.
    static func place(_ requests: [Request]) -> (offsets: [Int], size: Int) {
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
        var size = 0
        for i in requests.indices.sorted(by: { requests[$0].bytes > requests[$1].bytes }) {
            let r = requests[i]
            let bytes = (r.bytes + alignment - 1) / alignment * alignment
            let live = placed.filter { $0.first <= r.last && r.first <= $0.last }.sorted { $0.offset < $1.offset }
            var offset = 0
            for p in live {
                if offset + bytes <= p.offset { break }
                offset = max(offset, (p.end + alignment - 1) / alignment * alignment)
            }
            offsets[i] = offset
            placed.append((offset, offset + bytes, r.first, r.last))
            size = max(size, offset + bytes)
        }
        return (offsets, size)
    }
}
