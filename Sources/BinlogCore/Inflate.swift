/// zlib / DEFLATE decompression (RFC 1950, RFC 1951) for MariaDB's compressed events
/// (`log_bin_compress=ON`). Written for bounded inputs: every read is checked, the
/// output may not exceed the size the event announces, and the Adler-32 must match.
enum Inflate {
    struct Failure: Error {
        let reason: String
    }

    /// Decompresses a zlib stream that must produce exactly `expectedSize` bytes.
    static func zlib(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws -> [UInt8] {
        guard input.count >= 6 else { throw Failure(reason: "zlib stream of \(input.count) bytes is too short") }
        let cmf = input[0], flg = input[1]
        guard cmf & 0x0f == 8, cmf >> 4 <= 7, (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0, flg & 0x20 == 0 else {
            throw Failure(reason: "bad zlib header \(String(cmf, radix: 16)) \(String(flg, radix: 16))")
        }
        let (output, at) = try deflate(input, from: 2, expectedSize: expectedSize)
        guard at + 4 <= input.count else { throw Failure(reason: "zlib stream lacks its Adler-32") }
        let stored = UInt32(input[at]) << 24 | UInt32(input[at + 1]) << 16 | UInt32(input[at + 2]) << 8 | UInt32(input[at + 3])
        guard stored == adler32(output) else { throw Failure(reason: "Adler-32 mismatch") }
        return output
    }

    /// Inflates a raw DEFLATE stream starting at `from` that must produce exactly
    /// `expectedSize` bytes; returns them and the offset just past the stream.
    static func deflate(_ input: UnsafeRawBufferPointer, from: Int, expectedSize: Int) throws -> (output: [UInt8], end: Int) {
        var state = State(input: input, position: from, limit: expectedSize)
        try state.inflate()
        guard state.output.count == expectedSize else {
            throw Failure(reason: "inflated \(state.output.count) bytes, expected \(expectedSize)")
        }
        return (state.output, state.position)
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < bytes.count {
            let end = min(i + 5552, bytes.count)
            while i < end { a += UInt32(bytes[i]); b += a; i += 1 }
            a %= 65521; b %= 65521
        }
        return b << 16 | a
    }

    /// Canonical Huffman code as counts per length and symbols in code order.
    private struct Huffman {
        var count = [Int](repeating: 0, count: 16)
        var symbol: [Int]

        /// Builds the code; lengths must be 0…15.
        init(lengths: ArraySlice<Int>) {
            symbol = [Int](repeating: 0, count: lengths.count)
            for l in lengths { count[l] += 1 }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + count[len] }
            for (sym, l) in lengths.enumerated() where l != 0 {
                symbol[offsets[l]] = sym
                offsets[l] += 1
            }
        }

        /// Builds a code read from the stream, rejecting over-subscribed length sets.
        static func checked(_ lengths: ArraySlice<Int>) throws -> Huffman {
            let h = Huffman(lengths: lengths)
            var left = 1
            for len in 1...15 {
                left <<= 1
                left -= h.count[len]
                if left < 0 { throw Failure(reason: "over-subscribed Huffman code") }
            }
            return h
        }
    }

    /// The fixed codes of block type 1.
    private static let fixed: (Huffman, Huffman) = {
        var l = [Int](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return (Huffman(lengths: l[...]), Huffman(lengths: [Int](repeating: 5, count: 30)[...]))
    }()

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private struct State {
        let input: UnsafeRawBufferPointer
        var position: Int
        let limit: Int
        var bitBuffer: UInt32 = 0
        var bitCount = 0
        var output: [UInt8] = []

        init(input: UnsafeRawBufferPointer, position: Int, limit: Int) {
            self.input = input
            self.position = position
            self.limit = limit
            output.reserveCapacity(limit)
        }

        mutating func bits(_ n: Int) throws -> Int {
            while bitCount < n {
                guard position < input.count else { throw Failure(reason: "compressed data ends early") }
                bitBuffer |= UInt32(input[position]) << UInt32(bitCount)
                position += 1
                bitCount += 8
            }
            let v = Int(bitBuffer & ((1 << UInt32(n)) - 1))
            bitBuffer >>= UInt32(n)
            bitCount -= n
            return v
        }

        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1...15 {
                code |= try bits(1)
                let count = h.count[len]
                if code - count < first { return h.symbol[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure(reason: "invalid Huffman code")
        }

        mutating func inflate() throws {
            var last = false
            while !last {
                last = try bits(1) == 1
                switch try bits(2) {
                case 0: try stored()
                case 1: try codes(Inflate.fixed.0, Inflate.fixed.1)
                case 2:
                    let (lengths, distances) = try dynamicTables()
                    try codes(lengths, distances)
                default: throw Failure(reason: "invalid block type 3")
                }
            }
        }

        mutating func stored() throws {
            bitBuffer = 0
            bitCount = 0
            guard position + 4 <= input.count else { throw Failure(reason: "stored block header cut short") }
            let len = Int(input[position]) | Int(input[position + 1]) << 8
            let nlen = Int(input[position + 2]) | Int(input[position + 3]) << 8
            position += 4
            guard len == ~nlen & 0xffff else { throw Failure(reason: "stored block length check failed") }
            guard position + len <= input.count else { throw Failure(reason: "stored block cut short") }
            guard output.count + len <= limit else { throw Failure(reason: "output exceeds the announced size") }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[position..<(position + len)]))
            position += len
        }

        mutating func dynamicTables() throws -> (Huffman, Huffman) {
            let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
            guard nlen <= 286, ndist <= 30 else { throw Failure(reason: "too many length or distance codes") }
            var lengths = [Int](repeating: 0, count: 19)
            for i in 0..<ncode { lengths[Inflate.codeLengthOrder[i]] = try bits(3) }
            let lencode = try Huffman.checked(lengths[...])
            lengths = [Int](repeating: 0, count: nlen + ndist)
            var index = 0
            while index < nlen + ndist {
                var symbol = try decode(lencode)
                if symbol < 16 {
                    lengths[index] = symbol
                    index += 1
                    continue
                }
                var repeated = 0
                if symbol == 16 {
                    guard index > 0 else { throw Failure(reason: "repeat with no previous length") }
                    repeated = lengths[index - 1]
                    symbol = 3 + (try bits(2))
                } else if symbol == 17 {
                    symbol = 3 + (try bits(3))
                } else {
                    symbol = 11 + (try bits(7))
                }
                guard index + symbol <= nlen + ndist else { throw Failure(reason: "too many code lengths") }
                for _ in 0..<symbol { lengths[index] = repeated; index += 1 }
            }
            guard lengths[256] != 0 else { throw Failure(reason: "no end-of-block code") }
            return (try Huffman.checked(lengths[0..<nlen]), try Huffman.checked(lengths[nlen...]))
        }

        mutating func codes(_ lencode: Huffman, _ distcode: Huffman) throws {
            while true {
                let symbol = try decode(lencode)
                if symbol < 256 {
                    guard output.count < limit else { throw Failure(reason: "output exceeds the announced size") }
                    output.append(UInt8(symbol))
                } else if symbol == 256 {
                    return
                } else {
                    let s = symbol - 257
                    guard s < 29 else { throw Failure(reason: "invalid length symbol") }
                    let length = Inflate.lengthBase[s] + (try bits(Inflate.lengthExtra[s]))
                    let d = try decode(distcode)
                    guard d < 30 else { throw Failure(reason: "invalid distance symbol") }
                    let distance = Inflate.distanceBase[d] + (try bits(Inflate.distanceExtra[d]))
                    guard distance <= output.count else { throw Failure(reason: "distance before the start of the output") }
                    guard output.count + length <= limit else { throw Failure(reason: "output exceeds the announced size") }
                    let start = output.count - distance
                    for k in 0..<length { output.append(output[start + k]) }
                }
            }
        }
    }
}
