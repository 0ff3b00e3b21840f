import Foundation
import Support

/// Turns a YAML-lite tree into a ``JobSpec``, collecting every problem rather than stopping at the first.

struct JobSpecReader {
    let file: String
    let baseDirectory: String
    private(set) var diagnostics: [SpecDiagnostic] = []

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    // MARK: - Document

    mutating func read(_ root: YAMLNode?, sourcePath: String, sourceBytes: [UInt8]) -> JobSpec? {
        guard let root else {
            report(SourceMark(line: 1, column: 1), "the spec is empty", "start with 'version: 1' and 'name: ...'")
            return nil
        }
        guard
            let top = mapping(
                root, keys: ["version", "name", "principal", "vault", "store", "providers", "stages", "report"],
                context: "the spec")
        else { return nil }
        let version =
            required(top, "version", in: root).flatMap { integer($0, in: 1...1, fix: "write 'version: 1'") } ?? 1
        let nameNode = required(top, "name", in: root)
        let name = nameNode.flatMap { string($0) } ?? ""
        if let nameNode, !name.isEmpty {
            checkName(
                name, at: nameNode.mark, what: "the job name",
                use: "it names the report files (NAME.xml, NAME.md, NAME.json) and JUnit classes")
        }
        let principal = top["principal"].flatMap { string($0) }
        var vault = VaultLocation.folder(path: ""), masterKey = SecretReference.environment("TOKENKEEPER_MASTER_KEY")
        var store = StoreLocation.sqlite(path: "")
        if let node = required(top, "vault", in: root),
            let map = mapping(node, keys: ["path", "postgres", "tls", "master_key"], context: "vault")
        {
            switch backend(map, in: node, file: "path", context: "vault") {
            case .file(let path): vault = .folder(path: path)
            case .postgres(let connection, let tls): vault = .postgres(connection: connection, tls: tls)
            case nil: break
            }
            if let keyNode = map["master_key"], let reference = secret(keyNode) { masterKey = reference }
        }
        if let node = required(top, "store", in: root),
            let map = mapping(node, keys: ["sqlite", "postgres", "tls"], context: "store")
        {
            switch backend(map, in: node, file: "sqlite", context: "store") {
            case .file(let path): store = .sqlite(path: path)
            case .postgres(let connection, let tls): store = .postgres(connection: connection, tls: tls)
            case nil: break
            }
        }
        var providers: [String: ProviderSpec] = [:]
        if let node = top["providers"], case .mapping(let entries) = node {
            for entry in entries.entries {
                if let provider = provider(entry.key.text, entry.value) { providers[entry.key.text] = provider }
            }
        } else if let node = top["providers"], !isEmpty(node) {
            report(
                node.mark, "providers must be a mapping of names to providers",
                "write 'providers:' and each provider's name indented under it")
        }
        var stages: [StageSpec] = []
        if let node = required(top, "stages", in: root) {
            if case .sequence(let list) = node, !list.items.isEmpty {
                var names: [String: SourceMark] = [:]
                for item in list.items {
                    guard let stage = stage(item, providers: providers) else { continue }
                    if let first = names[stage.name] {
                        report(
                            stage.mark, "a second stage named '\(stage.name)' (first at line \(first.line))",
                            "give each stage its own name")
                    }
                    names[stage.name] = stage.mark
                    stages.append(stage)
                }
            } else {
                report(
                    node.mark, "stages must be a list with at least one stage",
                    "write '- name: ...' items under 'stages:'")
            }
        }
        var settings = ReportSettings(junit: nil, markdown: nil, json: nil, detail: .summary)
        if let node = top["report"],
            let report = mapping(node, keys: ["junit", "markdown", "json", "detail"], context: "report")
        {
            settings.junit = report["junit"].flatMap { path($0) }
            settings.markdown = report["markdown"].flatMap { path($0) }
            settings.json = report["json"].flatMap { path($0) }
            settings.detail = report["detail"].flatMap { choice($0, ReportSettings.Detail.self) } ?? .summary
        }
        return JobSpec(
            version: version, name: name, principal: principal, vault: vault, masterKey: masterKey, store: store,
            providers: providers, stages: stages, report: settings, sourcePath: sourcePath, sourceBytes: sourceBytes)
    }

    // MARK: - State backends

    /// What a `vault:` or `store:` block names: a file (`path:` / `sqlite:`) or PostgreSQL (`postgres:`).
    private enum Backend {
        case file(String)
        case postgres(SecretReference, PostgresTLS)
    }

    /// Reads the backend keys of a `vault:` or `store:` block: exactly one of `fileKey` and `postgres`, and
    /// `tls` (`verify-full`, the default, or `unverified`) only beside `postgres`. The connection string is a
    /// secret: an inline one is refused without being repeated.
    private mutating func backend(_ map: YAMLMapping, in node: YAMLNode, file fileKey: String, context: String)
        -> Backend?
    {
        let fileNode = map[fileKey], postgresNode = map["postgres"]
        if let fileNode, postgresNode != nil {
            report(
                fileNode.mark, "\(context) names both '\(fileKey)' and 'postgres'",
                "keep one: '\(fileKey): PATH' for the embedded backend, or 'postgres: env:NAME' for a server")
            return nil
        }
        if let fileNode {
            if let tlsNode = map["tls"] {
                report(
                    tlsNode.mark, "'tls' applies only to 'postgres' (a \(context) on a file has no connection)",
                    "remove 'tls', or use 'postgres: env:NAME'")
            }
            return path(fileNode).map { .file($0) }
        }
        guard let postgresNode else {
            report(
                node.mark, "missing '\(fileKey)' or 'postgres'",
                "add '\(fileKey): PATH', or 'postgres: env:NAME' with the connection string in that variable")
            return nil
        }
        var tls = PostgresTLS.verifiedOffHost
        if let tlsNode = map["tls"], let choice = choice(tlsNode, ["verify-full", "unverified"]) {
            tls = choice == "unverified" ? .unverified : .verifiedOffHost
        }
        guard let text = string(postgresNode) else { return nil }
        if text.hasPrefix("file:"), hasControlCharacter(String(text.dropFirst(5)), at: postgresNode.mark) { return nil }
        guard let reference = SecretReference.parse(text, baseDirectory: baseDirectory) else {
            report(
                postgresNode.mark,
                "a connection string is a secret, and this value is not a reference to one (it is not repeated here)",
                "write 'postgres: env:NAME' or 'postgres: file:PATH' (a file of mode 0600) and keep the connection "
                    + "string out of the spec")
            return nil
        }
        return .postgres(reference, tls)
    }

    // MARK: - Providers

    private mutating func provider(_ name: String, _ node: YAMLNode) -> ProviderSpec? {
        let keys = [
            "kind", "token_endpoint", "revocation_endpoint", "client_id", "client_secret", "client_auth", "scope",
            "tenant", "authority",
        ]
        guard let map = mapping(node, keys: keys, context: "provider '\(name)'") else { return nil }
        guard let kind = required(map, "kind", in: node).flatMap({ choice($0, ProviderSpec.Kind.self) }) else {
            return nil
        }
        let spec = ProviderSpec(
            name: name, kind: kind, tokenEndpoint: map["token_endpoint"].flatMap { url($0) },
            revocationEndpoint: map["revocation_endpoint"].flatMap { url($0) },
            clientID: map["client_id"].flatMap { string($0) },
            clientSecret: map["client_secret"].flatMap { secret($0) },
            clientAuth: map["client_auth"].flatMap { choice($0, ProviderSpec.ClientAuth.self) } ?? .clientSecretPost,
            scope: map["scope"].flatMap { string($0) }, tenant: map["tenant"].flatMap { string($0) },
            authority: map["authority"].flatMap { url($0) })
        if kind == .oauth2, spec.tokenEndpoint == nil, map["token_endpoint"] == nil {
            report(
                node.mark, "provider '\(name)' of kind oauth2 has no token_endpoint",
                "add 'token_endpoint: https://...'")
        }
        return spec
    }

    // MARK: - Stages

    private mutating func stage(_ node: YAMLNode, providers: [String: ProviderSpec]) -> StageSpec? {
        let common = ["name", "kind", "on_failure"]
        let byKind: [String: [String]] = [
            "rotate": ["tenants", "tenants_file", "max_key_age", "keep_versions", "batch_size", "reseal"],
            "revoke": ["users", "users_file", "mode", "tenants", "purge", "at_provider", "provider"],
            "refresh": [
                "provider", "refresh_after", "expiring_within", "concurrency", "max_rate", "retries", "request_timeout",
                "lease",
            ],
        ]
        guard case .mapping(let peek) = node else {
            report(node.mark, "a stage must be a mapping", "write '- name: ...' with 'kind:' and its options")
            return nil
        }
        guard let kindNode = peek["kind"], let kind = choice(kindNode, ["rotate", "revoke", "refresh"]) else {
            if peek["kind"] == nil {
                report(node.mark, "this stage has no 'kind'", "add 'kind: rotate', 'kind: refresh' or 'kind: revoke'")
            }
            return nil
        }
        guard let map = mapping(node, keys: common + byKind[kind]!, context: "a \(kind) stage") else { return nil }
        let nameNode = required(map, "name", in: node)
        let name = nameNode.flatMap { string($0) } ?? kind
        if let nameNode, !name.isEmpty {
            checkName(
                name, at: nameNode.mark, what: "the stage name",
                use: "it names a JUnit suite and is typed after run --stage")
        }
        let onFailure = map["on_failure"].flatMap { choice($0, StageSpec.OnFailure.self) } ?? .stop
        let options: StageSpec.Options =
            switch kind {
            case "rotate": rotateOptions(map, at: node)
            case "revoke": revokeOptions(map, at: node, providers: providers)
            default: refreshOptions(map, at: node, providers: providers)
            }
        return StageSpec(name: name, onFailure: onFailure, options: options, mark: node.mark)
    }

    /// A rotate stage's options: which tenants, key age, versions kept, batch size.
    private mutating func rotateOptions(_ map: YAMLMapping, at node: YAMLNode) -> StageSpec.Options {
        var tenants = TenantSelection.all
        if let node = map["tenants"] {
            if case .scalar(let scalar) = node, scalar.text == "all" {
                tenants = .all
            } else if let list = stringList(node) {
                tenants = .list(list)
            }
        } else if let file = map["tenants_file"].flatMap({ path($0) }) {
            tenants = .file(file)
        } else {
            report(
                node.mark, "a rotate stage needs 'tenants' or 'tenants_file'", "add 'tenants: all' or a list of tenants"
            )
        }
        return .rotate(
            RotateOptions(
                tenants: tenants, maxKeyAge: map["max_key_age"].flatMap { duration($0) } ?? 30 * 86_400,
                keepVersions: map["keep_versions"].flatMap { integer($0, in: 0...100) } ?? 1,
                batchSize: map["batch_size"].flatMap { integer($0, in: 1...20_000) } ?? 2_000,
                reseal: map["reseal"].flatMap { boolean($0) } ?? false))
    }

    /// A revoke stage's options: whom to revoke (users, a users file, tenants), how, and at which provider.
    private mutating func revokeOptions(_ map: YAMLMapping, at node: YAMLNode, providers: [String: ProviderSpec])
        -> StageSpec.Options
    {
        var users: [TenantUser] = []
        if let node = map["users"], let list = stringList(node) {
            for (offset, text) in list.enumerated() {
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
                    users.append(TenantUser(tenant: String(parts[0]), user: String(parts[1])))
                } else {
                    report(itemMark(node, offset), "'\(text)' is not tenant/user", "write each user as TENANT/USER")
                }
            }
        }
        let usersFile = map["users_file"].flatMap { path($0) }
        let tenants = map["tenants"].flatMap { stringList($0) } ?? []
        let purge = map["purge"].flatMap { boolean($0) } ?? false
        if users.isEmpty, usersFile == nil, tenants.isEmpty, map["users"] == nil {
            report(node.mark, "a revoke stage needs 'users', 'users_file' or 'tenants'", "say whom to revoke")
        }
        if purge, tenants.isEmpty, let purgeNode = map["purge"] {
            report(
                purgeNode.mark, "'purge: true' applies only to 'tenants'",
                "list the tenants to purge, or remove 'purge'")
        }
        let provider = map["provider"].flatMap { string($0) }
        if let provider, providers[provider] == nil, let mark = map["provider"]?.mark {
            unknownProvider(provider, mark, providers)
        }
        return .revoke(
            RevokeOptions(
                users: users, usersFile: usersFile,
                mode: map["mode"].flatMap { choice($0, RevokeMode.self) } ?? .deleteRecord,
                tenants: tenants, purge: purge, atProvider: map["at_provider"].flatMap { boolean($0) } ?? false,
                provider: provider))
    }

    /// A refresh stage's options: the provider, when a token is due, and how hard to call the provider.
    private mutating func refreshOptions(_ map: YAMLMapping, at node: YAMLNode, providers: [String: ProviderSpec])
        -> StageSpec.Options
    {
        let provider = required(map, "provider", in: node).flatMap { string($0) } ?? ""
        if !provider.isEmpty, providers[provider] == nil, let mark = map["provider"]?.mark {
            unknownProvider(provider, mark, providers)
        }
        return .refresh(
            RefreshOptions(
                provider: provider, refreshAfter: map["refresh_after"].flatMap { duration($0) } ?? 7 * 86_400,
                expiringWithin: map["expiring_within"].flatMap { duration($0) },
                concurrency: map["concurrency"].flatMap { integer($0, in: 1...256) } ?? 8,
                maxRate: map["max_rate"].flatMap { rate($0) },
                retries: map["retries"].flatMap { integer($0, in: 0...10) } ?? 3,
                requestTimeout: map["request_timeout"].flatMap { duration($0) } ?? 30,
                lease: map["lease"].flatMap { duration($0) } ?? 300))
    }

    private mutating func unknownProvider(_ name: String, _ mark: SourceMark, _ providers: [String: ProviderSpec]) {
        let hint =
            Suggestion.closest(to: name, among: providers.keys).map { "did you mean '\($0)'?" }
            ?? "define it under 'providers:'"
        report(mark, "no provider named '\(name)'", hint)
    }

    // MARK: - Values

    mutating func report(_ mark: SourceMark, _ message: String, _ fix: String) {
        diagnostics.append(SpecDiagnostic(file: file, mark: mark, message: message, fix: fix))
    }

    private func isEmpty(_ node: YAMLNode) -> Bool {
        if case .scalar(let scalar) = node { return scalar.isEmpty }
        return false
    }

    private func itemMark(_ node: YAMLNode, _ offset: Int) -> SourceMark {
        if case .sequence(let list) = node, offset < list.items.count { return list.items[offset].mark }
        return node.mark
    }

    /// A mapping with only `keys`; unknown keys are reported with the closest known key.
    private mutating func mapping(_ node: YAMLNode, keys: [String], context: String) -> YAMLMapping? {
        guard case .mapping(let map) = node else {
            report(
                node.mark, "\(context) must be a mapping, not \(node.kindDescription)",
                "write its keys indented on the lines below")
            return nil
        }
        for entry in map.entries where !keys.contains(entry.key.text) {
            let hint =
                Suggestion.closest(to: entry.key.text, among: keys).map { "did you mean '\($0)'?" }
                ?? "known keys here: \(keys.joined(separator: ", "))"
            report(entry.key.mark, "unknown key '\(entry.key.text)' in \(context)", hint)
        }
        return map
    }

    private mutating func required(_ map: YAMLMapping, _ key: String, in node: YAMLNode) -> YAMLNode? {
        guard let value = map[key] else {
            report(node.mark, "missing '\(key)'", "add '\(key): ...'")
            return nil
        }
        return value
    }

    private mutating func string(_ node: YAMLNode) -> String? {
        guard case .scalar(let scalar) = node else {
            report(
                node.mark, "expected a single value, found \(node.kindDescription)", "write the value on the key's line"
            )
            return nil
        }
        guard !scalar.isEmpty else {
            report(node.mark, "the value is empty", "write a value after the ':'")
            return nil
        }
        return scalar.text
    }

    private mutating func stringList(_ node: YAMLNode) -> [String]? {
        guard case .sequence(let list) = node else {
            report(node.mark, "expected a list, found \(node.kindDescription)", "write '[a, b]' or '- ' items")
            return nil
        }
        return list.items.compactMap { string($0) }
    }

    private mutating func integer(_ node: YAMLNode, in range: ClosedRange<Int>, fix: String? = nil) -> Int? {
        guard let text = string(node) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            report(
                node.mark, "'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)",
                fix ?? "write a number such as \(range.lowerBound)")
            return nil
        }
        return value
    }

    private mutating func boolean(_ node: YAMLNode) -> Bool? {
        guard let text = string(node) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(
                node.mark, "'\(text)' is not a boolean",
                "write true or false (yes, no, on and off are not booleans here)")
            return nil
        }
    }

    private mutating func duration(_ node: YAMLNode) -> TimeInterval? {
        guard let text = string(node) else { return nil }
        guard let seconds = DurationText.seconds(text) else {
            report(node.mark, "'\(text)' is not a duration", DurationText.hint)
            return nil
        }
        return seconds
    }

    private mutating func rate(_ node: YAMLNode) -> Double? {
        guard let text = string(node) else { return nil }
        let parts = text.split(separator: "/")
        let per: Double? = parts.count == 2 ? ["s": 1, "m": 60, "h": 3_600][String(parts[1])] : nil
        guard let per, let count = Int(parts[0]), count > 0 else {
            report(node.mark, "'\(text)' is not a rate", "write requests per unit: 50/s, 600/m or 10000/h")
            return nil
        }
        return Double(count) / per
    }

    private mutating func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ type: T.Type) -> T?
    where T.RawValue == String {
        choice(node, T.allCases.map(\.rawValue)).flatMap(T.init(rawValue:))
    }

    private mutating func choice(_ node: YAMLNode, _ choices: [String]) -> String? {
        guard let text = string(node) else { return nil }
        guard choices.contains(text) else {
            let hint =
                Suggestion.closest(to: text, among: choices).map { "did you mean '\($0)'?" }
                ?? "write one of \(choices.joined(separator: ", "))"
            report(node.mark, "'\(text)' is not one of \(choices.joined(separator: ", "))", hint)
            return nil
        }
        return text
    }

    private mutating func path(_ node: YAMLNode) -> String? {
        guard let text = string(node) else { return nil }
        guard !hasControlCharacter(text, at: node.mark) else { return nil }
        return SpecPaths.resolve(text, against: baseDirectory)
    }

    /// Reports a path with a control character: a NUL cuts it short where the system reads it, a line
    /// break or an escape makes it print as something else.
    private mutating func hasControlCharacter(_ path: String, at mark: SourceMark) -> Bool {
        guard path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return false }
        report(
            mark,
            "the path \"\(DisplayText.escaped(path))\" holds a control character (a NUL, a line break or an escape)",
            "write the path without it")
        return true
    }

    /// Reports a name that breaks ``SpecName``'s rule, shown escaped (it may hold an escape sequence).
    private mutating func checkName(_ name: String, at mark: SourceMark, what: String, use: String) {
        guard !SpecName.isValid(name) else { return }
        report(mark, "\(what) \"\(DisplayText.escaped(name))\" is not a safe name: \(use)", "use \(SpecName.rule)")
    }

    /// A secret reference. An inline value is refused without repeating it in the message.
    private mutating func secret(_ node: YAMLNode) -> SecretReference? {
        guard let text = string(node) else { return nil }
        if text.hasPrefix("file:"), hasControlCharacter(String(text.dropFirst(5)), at: node.mark) { return nil }
        guard let reference = SecretReference.parse(text, baseDirectory: baseDirectory) else {
            report(
                node.mark, "secrets are references, and this value is not one (it is not repeated here)",
                "write env:NAME or file:PATH and keep the secret out of the spec")
            return nil
        }
        return reference
    }

    /// An endpoint URL: https, or http only for loopback hosts.
    private mutating func url(_ node: YAMLNode) -> URL? {
        guard let text = string(node) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased()
        else {
            report(node.mark, "'\(text)' is not a URL", "write https://host/path")
            return nil
        }
        let loopback = host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
        guard scheme == "https" || (scheme == "http" && loopback) else {
            report(
                node.mark, "'\(text)' is not https",
                "use https:// (http:// is accepted only for 127.0.0.1, ::1 and localhost)")
            return nil
        }
        return url
    }
}
