import Foundation

/// JSON output for programs: sorted keys, so output is stable and diffable.
package enum JSONText {
    /// Encodes a value as pretty, key-sorted JSON text.
    package static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
