/// Durations as job specs and options write them: a whole number and a unit, `90s`, `15m`, `12h`, `7d`, `2w`.
package enum DurationText {
    /// Seconds per unit.
    static let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    /// The seconds `text` stands for, or nil when it is not a whole number followed by s, m, h, d or w.
    package static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let scale = units[unit] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII), let number = Int(digits), number >= 0
        else { return nil }
        return Double(number) * scale
    }

    /// The shortest exact spelling of `seconds`: `30d`, `2w`, `90s` (the inverse of ``seconds(_:)``).
    package static func text(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        for (unit, scale) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)]
        where whole >= scale && whole % scale == 0 {
            return "\(whole / scale)\(unit)"
        }
        return "\(whole)s"
    }

    /// What to write instead of a bad duration.
    package static let hint = "write a whole number and a unit: 90s, 15m, 12h, 7d or 2w"
}
