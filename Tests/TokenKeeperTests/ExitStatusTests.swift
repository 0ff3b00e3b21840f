import Testing
import TokenKeeper

@Suite struct ExitStatusTests {
    @Test func exitCodesMatchTheDesign() {
        #expect(ExitStatus.success.rawValue == 0)
        #expect(ExitStatus.itemsFailed.rawValue == 1)
        #expect(ExitStatus.usage.rawValue == 2)
        #expect(ExitStatus.environment.rawValue == 3)
    }
}
