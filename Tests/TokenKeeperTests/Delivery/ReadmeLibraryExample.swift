// The README's library example, compiled with nothing but `import TokenKeeper` (this file imports no
// other module), so the product library's re-exports keep it building. ReadmeLibraryExampleTests
// checks that the README shows exactly the lines between the markers.
import TokenKeeper

/// Never called: it exists so the compiler checks the README's example against the public API.
func readmeLibraryExample(tid: String, oid: String, incomingBearer: String) async throws {
    // README:begin
    let access = try TokenAccess(spec: try JobSpec.load(path: "job.yml"), principal: "web")
    let grant = try await access.accessToken(for: TokenKey(tenant: tid, user: oid, provider: "entra"))
    // grant.accessToken.revealed -> the Authorization header; data keys are cached per (secret, version)
    _ = try await access.onBehalfOf(assertion: SecretText(incomingBearer), provider: "entra")
    // README:end
    _ = grant
}
