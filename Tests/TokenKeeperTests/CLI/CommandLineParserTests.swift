import Testing

@testable import CLI
@testable import Report
@testable import Spec
@testable import Support

@Suite struct CommandLineParserTests {
    static let leaf = Command(
        "put", abstract: "Store a token.", usage: "--tenant T",
        options: [.value("tenant", "T", "Tenant."), .flag("reveal", "Show it.")]
    ) { _ in .success }
    static let root = Command(
        "tokenkeeper", abstract: "root", subcommands: [Command("token", abstract: "Tokens.", subcommands: [leaf])])

    private func parse(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandLineParser.Parsed {
        try CommandLineParser.parse(
            arguments, root: Self.root, environment: environment, console: Console(isInteractive: false))
    }

    @Test func subcommandsOptionsAndFlagsAreParsed() throws {
        let parsed = try parse(["token", "put", "--tenant=t1", "--reveal"])
        #expect(parsed.invocation.path == ["token", "put"])
        #expect(parsed.invocation.value("tenant") == "t1")
        #expect(parsed.invocation.flag("reveal"))
    }

    @Test func misspeltOptionGetsASuggestion() {
        let error = #expect(throws: UsageError.self) { try parse(["token", "put", "--tennant", "x"]) }
        #expect(error?.description.contains("Did you mean '--tenant'?") == true)
        #expect(error?.exitStatus == .usage)
    }

    @Test func misspeltCommandGetsASuggestion() {
        let error = #expect(throws: UsageError.self) { try parse(["tokn"]) }
        #expect(error?.description.contains("Did you mean 'token'?") == true)
    }

    @Test func optionMissingItsValueIsRefused() {
        #expect(throws: UsageError.self) { try parse(["token", "put", "--tenant"]) }
    }

    @Test func valueOptionFollowedByAnotherOptionIsRefusedNotTakenAsTheValue() {
        let error = #expect(throws: UsageError.self) { try parse(["token", "put", "--tenant", "--reveal"]) }
        #expect(error?.problem == "--tenant needs a value, but the option --reveal follows it")
        #expect(error?.exitStatus == .usage)
    }

    @Test func valueStartingWithTwoDashesIsTakenWhenWrittenWithAnEqualsSign() throws {
        #expect(try parse(["token", "put", "--tenant=--odd"]).invocation.value("tenant") == "--odd")
    }

    @Test func missingRequiredIntegerOptionIsRefusedNotDefaulted() throws {
        let invocation = try parse(["token", "put"]).invocation
        let error = #expect(throws: UsageError.self) { try invocation.requiredInteger("tenant", in: 1...9, example: 1) }
        #expect(error?.problem == "--tenant is required")
    }

    @Test func unexpectedPositionalArgumentIsRefused() {
        #expect(throws: UsageError.self) { try parse(["token", "put", "extra"]) }
    }

    @Test func globalOptionsFallBackToTheEnvironment() throws {
        let parsed = try parse(
            ["token", "put"], environment: ["TOKENKEEPER_VAULT": "/v", "TOKENKEEPER_PRINCIPAL": "ci"])
        #expect(parsed.invocation.globals.vaultPath == "/v")
        #expect(try parsed.invocation.globals.principal == "ci")
        #expect(parsed.invocation.globals.storePath == "./state/tokens.db")
    }

    @Test func commandLineOptionWinsOverTheEnvironment() throws {
        let parsed = try parse(["token", "put", "--vault", "/cli"], environment: ["TOKENKEEPER_VAULT": "/env"])
        #expect(parsed.invocation.globals.vaultPath == "/cli")
    }

    @Test func vaultAndStoreTakeAPostgresReferenceFromTheOptionOrTheEnvironment() throws {
        let parsed = try parse(
            ["token", "put", "--vault", "postgres:env:TOKENKEEPER_VAULT_URL"],
            environment: ["TOKENKEEPER_STORE": "postgres:file:/run/secrets/store.url"])
        #expect(
            try parsed.invocation.globals.vault
                == .postgres(connection: .environment("TOKENKEEPER_VAULT_URL"), tls: .verifiedOffHost))
        #expect(
            try parsed.invocation.globals.store
                == .postgres(connection: .file("/run/secrets/store.url"), tls: .verifiedOffHost))
        let paths = try parse(["token", "put", "--store", "./s.db"])
        #expect(try paths.invocation.globals.store == .sqlite(path: "./s.db"))
        #expect(try paths.invocation.globals.vault == .folder(path: "./state/vault"))
    }

    @Test func aConnectionStringInTheEnvironmentIsRefusedAtParseTimeNamingTheVariable() {
        let error = #expect(throws: StateLocationError.self) {
            try parse(["token", "put"], environment: ["TOKENKEEPER_VAULT": "postgresql://u:hunter2@db/v"])
        }
        #expect(error?.item == "TOKENKEEPER_VAULT")
        #expect(error.map { "\($0)" }?.contains("hunter2") == false)
    }

    @Test func helpWordShowsTheCommandsHelp() throws {
        let parsed = try parse(["help", "token", "put"])
        #expect(parsed.wantsHelp)
        #expect(parsed.command.name == "put")
        #expect(HelpFormatter.help(for: parsed.command, path: parsed.invocation.path).contains("--tenant T"))
    }
}
