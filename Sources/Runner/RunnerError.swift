import Support

/// An error of the job runner itself (not of a stage): the run was asked for something the spec
/// does not have. Exits with status 2, as any bad usage does (DESIGN.md).

package enum RunnerError: ActionableError, Equatable {
    /// `--stage NAME` names no stage of the spec; `stages` are the ones it has.
    case unknownStage(name: String, stages: [String])
    /// `--shard K/N` (N > 1) for a run that changes state on the embedded SQLite store.
    case shardNeedsServerState(shard: String)
    /// `--shard K/N` (N > 1) for a run that changes state, without `--run-id`.
    case shardNeedsRunID(shard: String)
    /// `--run-id` is not a plain name.
    case invalidRunID

    package var item: String {
        switch self {
        case .unknownStage: "tokenkeeper run"
        case .shardNeedsServerState(let shard), .shardNeedsRunID(let shard): "--shard \(shard)"
        case .invalidRunID: "--run-id"
        }
    }

    package var problem: String {
        switch self {
        case .unknownStage(let name, _): "the spec has no stage named '\(name)'"
        case .shardNeedsServerState:
            "a sharded run needs PostgreSQL state; this spec keeps its tokens in the embedded SQLite store, "
                + "which only one job on one host may hold at a time"
        case .shardNeedsRunID: "the shards of one run must share a run id, and none was given"
        case .invalidRunID: "the run id is not a plain name"
        }
    }

    package var remedy: String {
        switch self {
        case .unknownStage(let name, let stages):
            let hint = Suggestion.closest(to: name, among: stages).map { "Did you mean '\($0)'? " } ?? ""
            return "\(hint)Stages: \(stages.joined(separator: ", ")). Run `tokenkeeper run --help` for usage."
        case .shardNeedsServerState:
            return "Run the job without --shard, or move its state to PostgreSQL (store: postgres:) first; "
                + "see README section \"Shards\". plan and run --dry-run may preview a shard on SQLite."
        case .shardNeedsRunID:
            return "Add --run-id with the CI run's id, the same for every shard (Azure DevOps: $(Build.BuildId); "
                + "GitHub Actions: ${{ github.run_id }}; GitLab: $CI_PIPELINE_ID)."
        case .invalidRunID:
            return "Give 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                + "such as the CI run's id."
        }
    }

    package var exitStatus: ExitStatus { .usage }
}
