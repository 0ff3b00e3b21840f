import Custody
import Foundation
import Store
import Support

/// `tokenkeeper token import`: many tokens at once from token endpoint responses or `/.auth/me`.

enum TokenImportCommand {
    static let command = Command(
        "import", abstract: "Add or update many tokens from token responses or an App Service /.auth/me array.",
        usage: "[FILE | -] [--provider NAME] [--tenant TENANT]",
        discussion: """
            Reads FILE, or standard input when FILE is - or absent. Two shapes are understood:
              - token endpoint responses: one JSON object, or JSON lines of many. Tenant and user come from the
                id_token's tid and oid (or sub) claims; --provider names the provider (required).
              - an App Service token store /.auth/me JSON array: each entry's provider_name is the provider (unless
                --provider is given); tenant and user come from the id_token or the tid/oid user claims.
            --tenant is used for entries whose id_token has no tid (Google, Facebook, X). A leading byte order mark is
            ignored; a refresh token with white space or control characters is refused, as token put refuses it.
            Prints a count of each outcome (added, updated, skipped, failed) and the place of every entry not
            stored. Exits 1 when any entry failed. On a new vault it creates the store, as `token put` does.
            """,
        options: [
            .value("provider", "NAME", "Provider name for the rows (required for token responses)."),
            .value("tenant", "TENANT", "Tenant for entries without a tid claim."),
        ],
        positionals: 0...1
    ) { invocation in
        let source = invocation.positionals.first ?? "-"
        let input = try source == "-" ? FileHandle.standardInput : PrivateFiles.openForReading(source)
        let stream = TokenImportStream(
            handle: input, source: source == "-" ? "standard input" : source, provider: invocation.value("provider"),
            defaultTenant: invocation.value("tenant"), now: Date())
        let custodian = try VaultAccess.openCustodian(invocation.globals, source: .createForNewVault)
        // Sealing runs on the reading thread with a custodian of its own (over its own store session), while
        // this thread writes the batch sealed before: the two use both cores.
        let sealer = TokenCustodian(vault: custodian.vault, store: try custodian.store.openSession())
        var counts: [String: Int] = ["added": 0, "updated": 0, "skipped": 0, "failed": 0]
        // A thousand lines at a time: one store transaction each, memory flat whatever the input's size.
        try custodian.store.withBulkLoad {
            try stream.read(
                batchSize: 1_000,
                prepare: { batch in
                    // Only the sealed rows and where each entry sits travel on: the plaintext tokens stay here.
                    (
                        batch.problems, batch.records.map(\.location),
                        try sealer.sealBatch(batch.records.map { ($0.key, $0.refreshToken, $0.issuedAt, $0.expiresAt) })
                    )
                }
            ) { problems, locations, sealed in
                for problem in problems {
                    counts[problem.isSkip ? "skipped" : "failed", default: 0] += 1
                    invocation.console.err(
                        "\(problem.location): \(problem.isSkip ? "skipped" : "failed"): \(problem.reason)")
                }
                guard !locations.isEmpty else { return }
                let outcomes = try custodian.storeBatch(sealed)
                for (location, outcome) in zip(locations, outcomes) {
                    switch outcome {
                    case .stored(let put):
                        counts[put.rawValue, default: 0] += 1
                    case .failed(let error):
                        counts["failed", default: 0] += 1
                        invocation.console.err("\(location): failed: \(error)")
                    }
                }
            }
        }
        invocation.console.out(
            ["added", "updated", "skipped", "failed"].map { "\($0) \(counts[$0] ?? 0)" }.joined(separator: ", "))
        return (counts["failed"] ?? 0) > 0 ? .itemsFailed : .success
    }
}
