import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The project's Authlib identity provider (Tests/IdentityProvider/idp.py), started on 127.0.0.1 on a
/// free port for one test and stopped when the test is done.
final class TestIdentityProvider: @unchecked Sendable {
    let process = Process()
    let baseURL: URL
    let clientSecret: String
    var tokenEndpoint: String { baseURL.absoluteString + "/token" }
    var revocationEndpoint: String { baseURL.absoluteString + "/revoke" }

    init() throws {
        clientSecret = "idp-secret-" + UUID().uuidString
        process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
        process.arguments = [TestEnvironment.packageRoot + "/Tests/IdentityProvider/idp.py", "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(["IDP_CLIENT_SECRET": clientSecret]) {
            _, new in new
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait (at most 30 s) for "listening on http://127.0.0.1:PORT".
        var line = ""
        let deadline = Date().addingTimeInterval(30)
        while !line.contains("\n"), Date() < deadline, process.isRunning {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let range = line.range(of: "http://127.0.0.1:[0-9]+", options: .regularExpression),
            let url = URL(string: String(line[range]))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw ProcessTimeout(executable: "idp.py", arguments: ["did not start: \(line)"], seconds: 30)
        }
        baseURL = url
    }

    deinit { stop() }

    /// Stops the server with SIGKILL: test threads block signals, and a child spawned from one inherits
    /// the mask, so SIGTERM would never reach it.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Calls an admin endpoint with a JSON body (or GET without one) and returns the JSON answer.
    @discardableResult
    func admin(_ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: baseURL.absoluteString + "/" + path)!, timeoutInterval: 10)
        if let body {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// A sign-in: a new token family for the user; returns the refresh token.
    func signIn(tenant: String, user: String) async throws -> String {
        try await admin("admin/signin", ["tenant": tenant, "user": user])["refresh_token"] as! String
    }

    /// The server's counters.
    func stats() async throws -> [String: Int] {
        try await admin("admin/stats").compactMapValues { $0 as? Int }
    }

    /// One request to /token as the server saw it: when it arrived (seconds on the server's monotonic clock)
    /// and the fault injected into it (`status 429`, `delay`, `drop`, `drop_answer`), if any.
    struct Request: Sendable, CustomStringConvertible {
        var time: Double
        var fault: String?
        var description: String { "\(time)\(fault.map { " " + $0 } ?? "")" }
    }

    /// Every request to /token so far, in arrival order.
    func requests() async throws -> [Request] {
        let list = try await admin("admin/requests")["requests"] as? [[String: Any]] ?? []
        return list.map { Request(time: $0["time"] as? Double ?? 0, fault: $0["fault"] as? String) }
    }

    /// Whether `refreshToken`'s family is dead (revoked, expired, or burned by reuse).
    func familyIsDead(_ refreshToken: String) async throws -> Bool {
        let answer = try await admin("admin/family?refresh_token=\(refreshToken)")
        return !(answer["dead"] is NSNull)
    }

    /// The provider section of a job spec for this server, as provider `local`.
    func providerYAML(secretVariable: String = "IDP_CLIENT_SECRET", clientAuth: String = "client_secret_post") -> String
    {
        """
        providers:
          local:
            kind: oauth2
            token_endpoint: \(tokenEndpoint)
            revocation_endpoint: \(revocationEndpoint)
            client_id: tokenkeeper
            client_secret: env:\(secretVariable)
            client_auth: \(clientAuth)
            scope: offline_access

        """
    }
}
