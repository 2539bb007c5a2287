import ArgumentParser

/// `moonpalace completion bash|zsh|fish` — prints a shell completion script (as MoonPalace's `completion`).
struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script.",
        discussion: """
            bash: source <(moonpalace completion bash)
            zsh:  moonpalace completion zsh > "${fpath[1]}/_moonpalace"
            fish: moonpalace completion fish > ~/.config/fish/completions/moonpalace.fish
            """
    )

    @Argument(help: "The shell: bash, zsh or fish.")
    var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw ValidationError("unknown shell '\(shell)': choose bash, zsh or fish")
        }
        print(MoonPalace.completionScript(for: kind))
    }
}
