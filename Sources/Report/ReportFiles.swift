import Foundation
import Spec
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// Where one run's reports are written, and the writing itself.

public struct ReportFiles: Sendable, Equatable {
    /// The JUnit XML file, if wanted.
    public var junit: String?
    /// The Markdown summary, if wanted.
    public var markdown: String?
    /// The JSON report, if wanted.
    public var json: String?

    /// Creates the set of paths.
    public init(junit: String? = nil, markdown: String? = nil, json: String? = nil) {
        self.junit = junit
        self.markdown = markdown
        self.json = json
    }

    /// The paths a spec asks for, or, with `directory` (`run --report-dir`), the same file names in
    /// that folder (`JOB.xml`, `JOB.md`, `JOB.json` for the formats the spec does not name). A shard of
    /// a run puts `suffix` (`-2-of-4`) before each file's extension, so the N shards' files sit side by
    /// side: `nightly-2-of-4.xml`.
    public static func resolve(_ settings: ReportSettings, job: String, directory: String?, suffix: String = "")
        -> ReportFiles
    {
        guard let directory else {
            return ReportFiles(
                junit: settings.junit.map { suffixed($0, suffix) },
                markdown: settings.markdown.map { suffixed($0, suffix) },
                json: settings.json.map { suffixed($0, suffix) })
        }
        func inDirectory(_ configured: String?, _ fallback: String) -> String {
            (directory as NSString).appendingPathComponent(
                suffixed(configured.map { ($0 as NSString).lastPathComponent } ?? fallback, suffix))
        }
        return ReportFiles(
            junit: inDirectory(settings.junit, "\(job).xml"), markdown: inDirectory(settings.markdown, "\(job).md"),
            json: inDirectory(settings.json, "\(job).json"))
    }

    /// `path` with `suffix` before its extension: `reports/nightly.xml` and `-2-of-4` give `reports/nightly-2-of-4.xml`.
    static func suffixed(_ path: String, _ suffix: String) -> String {
        guard !suffix.isEmpty else { return path }
        let name = path as NSString
        let file = name.lastPathComponent as NSString
        let stem = file.deletingPathExtension + suffix
        let renamed = file.pathExtension.isEmpty ? stem : stem + "." + file.pathExtension
        let folder = PathText.parent(of: path)
        return folder.isEmpty ? renamed : (folder as NSString).appendingPathComponent(renamed)
    }

    /// Every path that will be written.
    public var all: [String] { [junit, markdown, json].compactMap { $0 } }

    /// Writes `report` in each wanted format, atomically (a CI step never reads half a report).
    /// Reports hold identifiers, never secrets, so they are written readable (0644) for CI agents
    /// and artifact uploads; their folder is created when missing.
    public func write(_ report: RunReport) throws {
        if let junit { try Self.write(JUnitReportWriter.xml(report), to: junit) }
        if let markdown { try Self.write(MarkdownReportWriter.markdown(report), to: markdown) }
        if let json { try Self.write(try JSONReportWriter.json(report), to: json) }
    }

    private static func write(_ text: String, to path: String) throws {
        let folder = PathText.parent(of: path)
        if !folder.isEmpty, !PrivateFiles.exists(folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                // FileManager wraps the POSIX error; report its errno rather than a guess.
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let code = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying!.code) : EIO
                throw FileSystemError(
                    path: folder, operation: "create report folder", code: code,
                    advice: "Check that the report folder's parent exists and is writable.")
            }
        }
        try PrivateFiles.writeAtomically(Array(text.utf8), to: path, mode: 0o644)
    }
}
