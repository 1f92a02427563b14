import Foundation

extension Segment {
    /// The live documents of `sources`, in order, as one new segment; nil when none is live.
    ///
    /// Term dictionaries are merged (each source's is sorted, so this is a k-way merge, no
    /// hashing), and each term's postings are appended source after source: documents keep
    /// their order, renumbered past the documents before them, deleted ones left out.
    static func merging(_ sources: [SegmentView], fields schema: [String: FieldType], name: String) -> Segment? {
        var ids: [String] = []
        var stored = StoredFields()
        // Per source: each document's new number, or -1 when it is deleted.
        var remaps: [[Int]] = []
        for source in sources {
            var remap = [Int](repeating: -1, count: source.segment.docCount)
            for doc in 0..<source.segment.docCount where source.isLive(doc) {
                remap[doc] = ids.count
                ids.append(source.segment.ids[doc])
                stored.append(encoded: source.segment.stored.encoded(doc))
            }
            remaps.append(remap)
        }
        guard !ids.isEmpty else { return nil }
        var fields: [String: FieldIndex] = [:]
        for (fieldName, type) in schema {
            let inputs = sources.map { $0.segment.fields[fieldName] }
            switch type {
            case .number:
                var numbers: [Double] = []
                numbers.reserveCapacity(ids.count)
                for (source, input) in inputs.enumerated() {
                    for doc in remaps[source].indices where remaps[source][doc] >= 0 {
                        numbers.append(input?.numbers[doc] ?? .nan)
                    }
                }
                fields[fieldName] = FieldIndex(
                    type: type, terms: [], postingStart: [0], docs: [], freqs: [], positionStart: [], positions: [],
                    lengths: [], numbers: numbers)
            case .text, .keyword:
                fields[fieldName] = mergeTerms(inputs, type: type, remaps: remaps, sources: sources, docCount: ids.count)
            }
        }
        return Segment(name: name, ids: ids, stored: stored, fields: fields)
    }

    private static func mergeTerms(
        _ inputs: [FieldIndex?], type: FieldType, remaps: [[Int]], sources: [SegmentView], docCount: Int
    ) -> FieldIndex {
        let text = type == .text
        var lengths: [UInt32] = []
        if text {
            lengths.reserveCapacity(docCount)
            for (source, input) in inputs.enumerated() {
                for doc in remaps[source].indices where remaps[source][doc] >= 0 {
                    lengths.append(input?.lengths[doc] ?? 0)
                }
            }
        }
        var terms = TermList()
        var postingStart: [UInt32] = [0]
        if !text {
            // Keywords: about the sum of the sources' terms (exactly that when they share
            // none, as the keys of distinct rows do), so the large arrays are not doubled
            // while appending. (Text vocabularies overlap: reserving their sum would waste more.)
            let termCount = inputs.reduce(0) { $0 + ($1?.terms.count ?? 0) }
            postingStart.reserveCapacity(termCount + 1)
            terms.reserveCapacity(terms: termCount, bytes: inputs.reduce(0) { $0 + ($1?.terms.byteCount ?? 0) })
        }
        var docs: [UInt32] = []
        var freqs: [UInt32] = []
        var positionStart: [UInt32] = text ? [0] : []
        var positions: [UInt32] = []
        let expected = inputs.reduce(0) { $0 + ($1?.docs.count ?? 0) }
        docs.reserveCapacity(expected)
        freqs.reserveCapacity(expected)
        if text {
            positionStart.reserveCapacity(expected + 1)
            positions.reserveCapacity(inputs.reduce(0) { $0 + ($1?.positions.count ?? 0) })
        }
        // Documents before each source's in the merged segment (used when it has no deletes).
        var bases: [Int] = []
        var before = 0
        for source in sources {
            bases.append(before)
            before += source.liveCount
        }
        var cursors = [Int](repeating: 0, count: inputs.count)
        var holding: [Int] = []
        while true {
            // The sources whose current term is the smallest.
            holding.removeAll(keepingCapacity: true)
            for source in inputs.indices {
                guard let input = inputs[source], cursors[source] < input.terms.count else { continue }
                if let first = holding.first {
                    let other = inputs[first]!.terms
                    let order = input.terms.withBytes(cursors[source]) { other.compare(cursors[first], $0) } * -1
                    if order > 0 { continue }
                    if order < 0 { holding.removeAll(keepingCapacity: true) }
                }
                holding.append(source)
            }
            guard let first = holding.first else { break }
            let postingsBefore = docs.count
            for source in holding {
                let input = inputs[source]!
                let range = input.postings(cursors[source])
                cursors[source] += 1
                if sources[source].deletes == nil {
                    let base = UInt32(bases[source])
                    for posting in range { docs.append(input.docs[posting] + base) }
                    freqs.append(contentsOf: input.freqs[range])
                    if text {
                        let from = Int(input.positionStart[range.lowerBound])
                        let shift = positions.count - from
                        for posting in range { positionStart.append(UInt32(Int(input.positionStart[posting + 1]) + shift)) }
                        positions.append(contentsOf: input.positions[from..<Int(input.positionStart[range.upperBound])])
                    }
                } else {
                    let remap = remaps[source]
                    for posting in range where remap[Int(input.docs[posting])] >= 0 {
                        docs.append(UInt32(remap[Int(input.docs[posting])]))
                        freqs.append(input.freqs[posting])
                        if text {
                            positions.append(contentsOf: input.positions(ofPosting: posting))
                            positionStart.append(UInt32(positions.count))
                        }
                    }
                }
            }
            if docs.count > postingsBefore {
                terms.append(cursors[first] - 1, of: inputs[first]!.terms)
                postingStart.append(UInt32(docs.count))
            }
        }
        return FieldIndex(
            type: type, terms: terms, postingStart: postingStart, docs: docs, freqs: freqs,
            positionStart: positionStart, positions: positions, lengths: lengths, numbers: [])
    }
}
