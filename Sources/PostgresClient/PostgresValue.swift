import Foundation

/// One bound parameter of a PostgreSQL statement, sent in binary format with its type, so no value is
/// ever spliced into SQL text and a sealed token travels as raw `bytea`.
package enum PostgresValue {
    case null(oid: UInt32)
    case text(String)
    case int8(Int64)
    case int4(Int32)
    case bool(Bool)
    case bytea([UInt8])
    case int8Array([Int64])
    case int4Array([Int32])
    case textArray([String])
    case byteaArray([[UInt8]])
    /// Arrays whose elements may be NULL (a batch's optional columns).
    case optionalInt8Array([Int64?])
    case optionalTextArray([String?])
    case optionalByteaArray([[UInt8]?])

    /// Text, or NULL.
    package static func text(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null(oid: Oid.text) }
    /// A time as unix milliseconds (the unit of every time column), or NULL.
    package static func time(_ value: Date?) -> PostgresValue {
        value.map { .int8(milliseconds($0)) } ?? .null(oid: Oid.int8)
    }
    /// Bytes, or NULL.
    package static func bytea(_ value: [UInt8]?) -> PostgresValue { value.map { .bytea($0) } ?? .null(oid: Oid.bytea) }

    /// A date as whole unix milliseconds, rounded down, as the SQLite store stores it.
    package static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The type OIDs used here (pg_type).
    package enum Oid {
        package static let bool: UInt32 = 16, bytea: UInt32 = 17, int8: UInt32 = 20, int4: UInt32 = 23,
            text: UInt32 = 25
        package static let int4Array: UInt32 = 1007, textArray: UInt32 = 1009, byteaArray: UInt32 = 1001,
            int8Array: UInt32 = 1016
    }

    /// The parameter's type.
    var oid: UInt32 {
        switch self {
        case .null(let oid): oid
        case .text: Oid.text
        case .int8: Oid.int8
        case .int4: Oid.int4
        case .bool: Oid.bool
        case .bytea: Oid.bytea
        case .int8Array: Oid.int8Array
        case .int4Array: Oid.int4Array
        case .textArray: Oid.textArray
        case .byteaArray, .optionalByteaArray: Oid.byteaArray
        case .optionalInt8Array: Oid.int8Array
        case .optionalTextArray: Oid.textArray
        }
    }

    /// The binary wire form, nil for NULL.
    var encoded: [UInt8]? {
        switch self {
        case .null: nil
        case .text(let value): Array(value.utf8)
        case .int8(let value): Self.bigEndian(value)
        case .int4(let value): Self.bigEndian(value)
        case .bool(let value): [value ? 1 : 0]
        case .bytea(let value): value
        case .int8Array(let values): Self.array(element: Oid.int8, values.map { Self.bigEndian($0) })
        case .int4Array(let values): Self.array(element: Oid.int4, values.map { Self.bigEndian($0) })
        case .textArray(let values): Self.array(element: Oid.text, values.map { Array($0.utf8) })
        case .byteaArray(let values): Self.array(element: Oid.bytea, values)
        case .optionalInt8Array(let values): Self.array(element: Oid.int8, values.map { $0.map { Self.bigEndian($0) } })
        case .optionalTextArray(let values): Self.array(element: Oid.text, values.map { $0.map { Array($0.utf8) } })
        case .optionalByteaArray(let values): Self.array(element: Oid.bytea, values)
        }
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// A one-dimensional array in PostgreSQL's binary array format (a nil item is a NULL element).
    private static func array(element: UInt32, _ items: [[UInt8]?]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20 + items.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        out += bigEndian(Int32(items.isEmpty ? 0 : 1))  // dimensions
        out += bigEndian(Int32(items.contains { $0 == nil } ? 1 : 0))  // whether any element is NULL
        out += bigEndian(element)
        if !items.isEmpty {
            out += bigEndian(Int32(items.count))
            out += bigEndian(Int32(1))  // lower bound
        }
        for item in items {
            guard let item else {
                out += bigEndian(Int32(-1))  // NULL
                continue
            }
            out += bigEndian(Int32(item.count))
            out += item
        }
        return out
    }
}
