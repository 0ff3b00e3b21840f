import Foundation

/// Writes and reads a ``RunReport`` as JSON for programs: keys sorted, dates ISO 8601 in UTC.
public enum JSONReportWriter {
    /// The JSON document for `report`.
    public static func json(_ report: RunReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.formatter().string(from: date))
        }
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    /// ISO 8601 in UTC with milliseconds: `2026-11-24T03:00:00.123Z`.
    private static func formatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }

    /// Reads a report written by ``json(_:)``.
    public static func read(_ data: Data) throws -> RunReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Self.formatter().date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
            }
            return date
        }
        return try decoder.decode(RunReport.self, from: data)
    }
}
