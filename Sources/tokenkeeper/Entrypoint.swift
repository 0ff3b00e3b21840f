import CLI

/// The `tokenkeeper` executable: everything but the process entry lives in the TokenKeeper library.

@main
struct Entrypoint {
    static func main() async {
        await CommandLineTool.main(arguments: Array(CommandLine.arguments.dropFirst()))
    }
}
