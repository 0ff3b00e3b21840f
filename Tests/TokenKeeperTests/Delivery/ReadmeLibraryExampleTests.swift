import Foundation
import Testing

/// The README's Swift example is the code the test target compiles with `import TokenKeeper` alone
/// (ReadmeLibraryExample.swift), so a change to the public API that breaks it breaks the build.
@Suite struct ReadmeLibraryExampleTests {
    static func lines(_ text: Substring) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Test func theReadmeShowsTheCompiledLibraryExample() throws {
        let readme = try String(contentsOfFile: TestEnvironment.packageRoot + "/README.md", encoding: .utf8)
        let opening = "```swift\nimport TokenKeeper\n"
        let start = try #require(
            readme.range(of: opening), "README has no ```swift block starting with import TokenKeeper")
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let shown = Self.lines(readme[start.upperBound..<end.lowerBound])

        let source = try String(
            contentsOfFile: TestEnvironment.packageRoot + "/Tests/TokenKeeperTests/Delivery/ReadmeLibraryExample.swift",
            encoding: .utf8)
        let from = try #require(source.range(of: "// README:begin\n"))
        let to = try #require(source.range(of: "// README:end", range: from.upperBound..<source.endIndex))
        let compiled = Self.lines(source[from.upperBound..<to.lowerBound])
        #expect(!compiled.isEmpty)
        #expect(shown == compiled)
    }

    @Test func theCompiledExampleImportsOnlyTheProductLibrary() throws {
        let source = try String(
            contentsOfFile: TestEnvironment.packageRoot + "/Tests/TokenKeeperTests/Delivery/ReadmeLibraryExample.swift",
            encoding: .utf8)
        #expect(LayerRules.imports(inSource: source) == ["TokenKeeper"])
    }
}
