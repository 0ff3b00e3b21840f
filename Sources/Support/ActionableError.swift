/// An error a person can act on: which item went wrong, what is wrong with it, and what to do.
///
/// Every error tokenkeeper shows conforms to this protocol, so that the command line can print
/// `item: problem. remedy` and choose the exit code without knowing the module that failed.
/// Implementations must never put a secret value (token, key, client secret) in any field:
/// the description is printed, logged and written to reports.
public protocol ActionableError: Error, CustomStringConvertible, Sendable {
    /// The thing that failed: a file path, a secret name, a row `tenant/user/provider`, an option.
    var item: String { get }
    /// What is wrong, in one sentence without a trailing period.
    var problem: String { get }
    /// What the person should do about it, as a full sentence.
    var remedy: String { get }
    /// The process exit status this error leads to when it ends a command.
    var exitStatus: ExitStatus { get }
}

extension ActionableError {
    /// `item: problem. remedy`, the form every tokenkeeper error message takes.
    public var description: String {
        remedy.isEmpty ? "\(item): \(problem)" : "\(item): \(problem). \(remedy)"
    }
}

/// A general error for the few places that have no domain error type of their own.
package struct GeneralError: ActionableError {
    package let item: String
    package let problem: String
    package let remedy: String
    package let exitStatus: ExitStatus

    /// Creates an error; `exitStatus` defaults to `.environment`.
    package init(item: String, problem: String, remedy: String, exitStatus: ExitStatus = .environment) {
        self.item = item
        self.problem = problem
        self.remedy = remedy
        self.exitStatus = exitStatus
    }
}
