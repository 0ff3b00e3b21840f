import Foundation
import Testing

@testable import Report
@testable import Spec

/// Text that comes from outside (user ids in unverified id_tokens, files saved by Windows editors,
/// hand-made token files) is shown escaped, read the same with or without a byte order mark, and
/// held to the same rules whichever command takes it in.
@Suite struct HostileTextTests {
    @Test func aUserIdWithALineBreakCannotForgeARowOfTokenList() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let forged = "o1\nt9  forged  entra  v1  active\u{1B}[2J"
            let response =
                "{\"refresh_token\":\"rt-1\",\"id_token\":\"\(JWTFixture.idToken(["tid": "t1", "oid": forged]))\"}"
            let imported = try workspace.run(["token", "import", "--provider", "entra"], stdin: response)
            #expect(imported.status == 0, "\(imported.stderr)")
            let list = try workspace.run(["token", "list"])
            #expect(list.status == 0)
            let lines = list.stdout.split(separator: "\n")
            #expect(lines.count == 2, "\(list.stdout)")  // the header and one row
            #expect(list.stdout.contains("o1\\nt9  forged"))
            #expect(!list.output.unicodeScalars.contains("\u{1B}"))
            let show = try workspace.run(["token", "show", "--tenant", "t1", "--user", forged, "--provider", "entra"])
            #expect(show.status == 0, "\(show.stderr)")
            #expect(!show.stdout.contains("\nt9") && !show.output.unicodeScalars.contains("\u{1B}"))
            // JSON keeps the id exactly (JSON escapes it itself).
            let json = try workspace.run(["token", "list", "--format", "json"])
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(rows.first?["user"] as? String == forged)
        }
    }

    @Test func aSpecSavedWithAByteOrderMarkIsValid() throws {
        try withTemporaryDirectory { folder in
            let spec = "\u{FEFF}" + JobSpecTests.minimal
            try Data(spec.utf8).write(to: URL(fileURLWithPath: folder + "/job.yml"))
            let result = try runTokenKeeper(["validate", folder + "/job.yml"])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test func aUsersFileWithAByteOrderMarkNamesTheSameTenant() throws {
        try withTemporaryDirectory { folder in
            try Data("\u{FEFF}t1 u1\nt2 u2\n".utf8).write(to: URL(fileURLWithPath: folder + "/users.txt"))
            #expect(try TenantUserList.users(path: folder + "/users.txt").map(\.description) == ["t1/u1", "t2/u2"])
            try Data("\u{FEFF}t1\n".utf8).write(to: URL(fileURLWithPath: folder + "/tenants.txt"))
            #expect(try TenantUserList.tenants(path: folder + "/tenants.txt") == ["t1"])
        }
    }

    @Test func anImportFileWithAByteOrderMarkIsRead() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let response =
                "\u{FEFF}{\"refresh_token\":\"rt-1\",\"id_token\":\"\(JWTFixture.idToken(["tid": "t1", "oid": "o1"]))\"}\n"
            try Data(response.utf8).write(to: URL(fileURLWithPath: folder + "/responses.json"))
            let imported = try workspace.run(["token", "import", "responses.json", "--provider", "entra"])
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.contains("added 1"))
            let authMe =
                "\u{FEFF}[{\"provider_name\":\"aad\",\"refresh_token\":\"rt-2\",\"user_claims\":[{\"typ\":\"tid\",\"val\":\"t2\"},{\"typ\":\"oid\",\"val\":\"o2\"}]}]"
            let fromArray = try workspace.run(["token", "import"], stdin: authMe)
            #expect(fromArray.stdout.contains("added 1"), "\(fromArray.stderr)")
        }
    }

    @Test func importRefusesARefreshTokenThatPutRefuses() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let put = try workspace.run(
                ["token", "put", "--tenant", "t1", "--user", "o1", "--provider", "entra"], stdin: "rt with spaces")
            #expect(put.status == 2)
            let response =
                "{\"refresh_token\":\"rt with spaces\",\"id_token\":\"\(JWTFixture.idToken(["tid": "t1", "oid": "o1"]))\"}"
            let imported = try workspace.run(["token", "import", "--provider", "entra"], stdin: response)
            #expect(imported.status == 1)
            #expect(imported.stdout.contains("added 0") && imported.stdout.contains("failed 1"), "\(imported.stdout)")
            #expect(
                imported.stderr.contains("object 1: failed:") && imported.stderr.contains("white space"),
                "\(imported.stderr)")
            #expect(!imported.output.contains("rt with spaces"))
            #expect(try workspace.run(["token", "list"]).stdout.contains("(none)"))
        }
    }

    @Test func aNameInSomeoneElsesReportCannotForgeALineOfReportShow() throws {
        try withTemporaryDirectory { folder in
            let xml =
                "<testsuites><testsuite name=\"s&#10;forged\"><testcase name=\"c&#10;run x\"><failure type=\"t\" message=\"m\"/></testcase>"
                + "</testsuite></testsuites>"
            try Data(xml.utf8).write(to: URL(fileURLWithPath: folder + "/r.xml"))
            let result = try runTokenKeeper(["report", "show", folder + "/r.xml"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stdout.contains("\nforged") && !result.stdout.contains("\nrun x"), "\(result.stdout)")
        }
    }
}
