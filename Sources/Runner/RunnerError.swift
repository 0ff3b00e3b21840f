import Support

/// An error of the job runner itself (not of a stage): the run was asked for something the spec
/// does not have. Exits with status 2, as any bad usage does (DESIGN.md).

package enum RunnerError: ActionableError, Equatable {
    /// `--stage NAME` names no stage of the spec; `stages` are the ones it has.
    case unknownStage(name: String, stages: [String])

    package var item: String {
        switch self {
        case .unknownStage: "tokenkeeper run"
        }
    }

    package var problem: String {
        switch self {
        case .unknownStage(let name, _): "the spec has no stage named '\(name)'"
        }
    }

    package var remedy: String {
        switch self {
        case .unknownStage(let name, let stages):
            let hint = Suggestion.closest(to: name, among: stages).map { "Did you mean '\($0)'? " } ?? ""
            return "\(hint)Stages: \(stages.joined(separator: ", ")). Run `tokenkeeper run --help` for usage."
        }
    }

    package var exitStatus: ExitStatus { .usage }
}
