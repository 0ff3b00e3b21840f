/// The top-level commands, in the order `tokenkeeper --help` lists them.
package enum CommandCatalog {
    /// Every top-level command.
    package static var all: [Command] {
        [VaultCommands.group, StateCommands.group, TokenCommands.group] + JobCommands.all + [
            ReportCommands.group, StatusCommand.command,
        ]
    }
}
