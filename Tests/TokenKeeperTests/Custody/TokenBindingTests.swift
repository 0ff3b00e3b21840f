import Testing

@testable import Custody
@testable import Report
@testable import Store

@Suite struct TokenBindingTests {
    @Test func fieldBoundariesCannotBeShifted() {
        let a = TokenBinding.associatedData(
            for: TokenKey(tenant: "ab", user: "c", provider: "p"), secret: "s", keyVersion: 1)
        let b = TokenBinding.associatedData(
            for: TokenKey(tenant: "a", user: "bc", provider: "p"), secret: "s", keyVersion: 1)
        #expect(a != b)
    }

    @Test func everyFieldChangesTheBinding() {
        let key = TokenKey(tenant: "t", user: "u", provider: "p")
        let base = TokenBinding.associatedData(for: key, secret: "s", keyVersion: 1)
        #expect(base != TokenBinding.associatedData(for: key, secret: "s", keyVersion: 2))
        #expect(base != TokenBinding.associatedData(for: key, secret: "s2", keyVersion: 1))
        #expect(
            base
                != TokenBinding.associatedData(
                    for: TokenKey(tenant: "t", user: "u", provider: "q"), secret: "s", keyVersion: 1))
    }
}
