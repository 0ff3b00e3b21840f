import Foundation
import Support

/// Files that list users (`tenant user` per line) or tenants (one per line) for a stage.
/// `#` starts a comment line; blank lines are ignored; a leading byte order mark is not content.

public enum TenantUserList {
    /// Reads `tenant user` pairs.
    /// - throws: ``SpecError`` naming each bad line, or a file error.
    public static func users(path: String) throws -> [TenantUser] {
        try lines(path, fields: 2, shape: "TENANT USER").map { TenantUser(tenant: $0[0], user: $0[1]) }
    }

    /// Reads one tenant per line.
    public static func tenants(path: String) throws -> [String] {
        try lines(path, fields: 1, shape: "TENANT").map { $0[0] }
    }

    private static func lines(_ path: String, fields: Int, shape: String) throws -> [[String]] {
        let text = String(decoding: ByteOrderMark.dropped(from: try PrivateFiles.readFile(path)), as: UTF8.self)
        var result: [[String]] = []
        var problems: [SpecDiagnostic] = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if parts.count == fields {
                result.append(parts)
            } else {
                problems.append(
                    SpecDiagnostic(
                        file: path, mark: SourceMark(line: offset + 1, column: 1),
                        message: "expected '\(shape)', found \(parts.count) field\(parts.count == 1 ? "" : "s")",
                        fix: "write one '\(shape)' per line"))
            }
        }
        if !problems.isEmpty { throw SpecError(problems) }
        return result
    }
}
