/// Path arithmetic on plain strings.
///
/// Foundation's `NSString.deletingLastPathComponent` traps on Linux for a one-character name such as
/// `a` or `a/` (swift-corelibs-foundation), so `tokenkeeper vault init a/vault` crashed; every parent
/// folder is computed here instead.
package enum PathText {
    /// The folder that holds `path`: `""` for a bare name (the working folder), `/` for a name at the
    /// root; trailing slashes are ignored, as the system ignores them.
    package static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var folder = trimmed[..<slash]
        while folder.hasSuffix("/") { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }
}
