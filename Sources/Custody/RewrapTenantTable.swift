import Foundation

/// The tenants a rotation walks, found by the UTF-8 bytes of a row's tenant column without making a
/// String: the walk reads every wrapped key of the store, and a String (an allocation) plus a dictionary
/// lookup per row cost as much as the row's cryptography.
///
/// Lookups hash the bytes with the standard library's seeded `Hasher` (so crafted tenant names cannot
/// make lookups slow) and confirm a match byte for byte; the tenant of the previous lookup is tried first.
struct RewrapTenantTable {
    /// The tenants, in the order their numbers refer to.
    let names: [String]
    private let utf8: [[UInt8]]
    private var byHash: [Int: [Int]] = [:]
    private var last: Int?

    /// A table of `names` (numbered in this order).
    init(names: [String]) {
        self.names = names
        utf8 = names.map { Array($0.utf8) }
        for (number, bytes) in utf8.enumerated() {
            byHash[bytes.withUnsafeBytes(Self.hash), default: []].append(number)
        }
    }

    /// The number of the tenant whose name is `bytes`, or nil when the table does not hold it.
    mutating func number(of bytes: UnsafeRawBufferPointer) -> Int? {
        if let last, matches(last, bytes) { return last }
        guard let candidates = byHash[Self.hash(bytes)], let found = candidates.first(where: { matches($0, bytes) })
        else { return nil }
        last = found
        return found
    }

    private func matches(_ number: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        utf8[number].withUnsafeBytes { name in
            name.count == bytes.count
                && (name.isEmpty || memcmp(name.baseAddress!, bytes.baseAddress!, name.count) == 0)
        }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }
}
