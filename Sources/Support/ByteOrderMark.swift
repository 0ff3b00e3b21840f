/// The UTF-8 byte order mark (EF BB BF) that Windows editors put at the start of a file. It is not
/// content: a spec, a users file or an import file reads the same with it or without it.
package enum ByteOrderMark {
    /// The mark's bytes.
    package static let bytes: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// `data` without a leading byte order mark.
    package static func dropped<Bytes: Collection>(from data: Bytes) -> Bytes.SubSequence where Bytes.Element == UInt8 {
        data.starts(with: bytes) ? data.dropFirst(bytes.count) : data[...]
    }

    /// `text` without a leading U+FEFF.
    package static func dropped(from text: String) -> String {
        text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
    }
}
