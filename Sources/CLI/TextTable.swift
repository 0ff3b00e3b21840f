/// Plain aligned columns for listings people read at a terminal.
package enum TextTable {
    /// Renders a header and rows as left-aligned columns separated by two spaces.
    /// An empty listing prints the header and `(none)`.
    package static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var lines = all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
        if rows.isEmpty { lines.append("(none)") }
        return lines.joined(separator: "\n")
    }
}
