// The README's library example, compiled with nothing but `import TokenKeeper` (this file imports no
// other module), so the product library's re-exports keep it building. ReadmeLibraryExampleTests
// checks that the README shows exactly the lines between the markers.
import TokenKeeper

/// Never called: it exists so the compiler checks the README's example against the public API.
func readmeLibraryExample(tid: String, oid: String, key: TokenKey, incomingBearer: String) async throws {
    // README:begin
    // One instance for the life of the service: the access token cache lives in it.
    let access = try TokenAccess(spec: try JobSpec.load(path: "job.yml"), principal: "web")
    let grant = try await access.accessToken(for: TokenKey(tenant: tid, user: oid, provider: "entra"))
    // grant.accessToken.revealed -> the Authorization header; grant.fromCache says whether it was redeemed for this call
    let fresh = try await access.accessToken(for: key, forceRefresh: true)  // as /.auth/refresh, e.g. after a 401
    _ = try await access.onBehalfOf(assertion: SecretText(incomingBearer), provider: "entra")
    // README:end
    _ = (grant, fresh)
}
