using System.CommandLine;
using Moat.Cli.Commands;

namespace Moat.Cli;

internal static class MoatCli
{
    public const string Version = "0.1.0";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["--version"] or ["-v"] or ["version"])
        {
            Console.WriteLine($"moat version {Version}\nspec: {Moat.Oci.Spec.CurrentVersion}");
            return 0;
        }
        var root = new RootCommand("Moat: run OCI containers, each in its own lightweight VM (runc-compatible verbs)");
        GlobalOptions.AddTo(root);
        root.Subcommands.Add(CreateCommand.Create());
        root.Subcommands.Add(StartCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(StateCommand.Create());
        root.Subcommands.Add(KillCommand.Create());
        root.Subcommands.Add(DeleteCommand.Create());
        root.Subcommands.Add(ExecCommand.Create());
        root.Subcommands.Add(PsCommand.Create());
        root.Subcommands.Add(PauseCommand.Create(pause: true));
        root.Subcommands.Add(PauseCommand.Create(pause: false));
        root.Subcommands.Add(UpdateCommand.Create());
        root.Subcommands.Add(EventsCommand.Create());
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(SpecCommand.Create());
        root.Subcommands.Add(FeaturesCommand.Create());
        root.Subcommands.Add(CheckpointCommand.Create("checkpoint"));
        root.Subcommands.Add(CheckpointCommand.Create("restore"));
        root.Subcommands.Add(ImageCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(InstallCommand.Create());
        root.Subcommands.Add(MonitorCommand.Create());
        root.Subcommands.Add(TopCommand.Create());
        root.Subcommands.Add(DeployCommand.Create());
        var parse = root.Parse(args);
        ErrorReporter.Configure(parse.GetValue(GlobalOptions.Log), parse.GetValue(GlobalOptions.LogFormat));
        if (args.Contains("--help") || args.Contains("-h"))
        {
            return await parse.InvokeAsync();
        }
        if (UndefinedFlag(parse) is { } flag)
        {
            return ErrorReporter.Fail($"flag provided but not defined: {flag} (see moat {parse.CommandResult.Command.Name} --help)");
        }
        if (parse.Errors.Count > 0)
        {
            // One line, as runc: what was wrong and where to look (an unknown verb or flag first).
            var error = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            return ErrorReporter.Fail($"{error.Message.TrimEnd('.')} (see moat --help)");
        }
        // Signals are the container's business (moat run forwards them), not the parser's.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>
    /// A "--flag" the parser took for an argument (a container id or signal): runc refuses it.
    /// exec and ps pass what follows the id to the process, so only their first argument counts.
    /// </summary>
    private static string? UndefinedFlag(ParseResult parse)
    {
        var verb = parse.CommandResult.Command.Name;
        if (verb is not ("create" or "start" or "run" or "state" or "kill" or "delete" or "pause" or "resume" or "update" or "events" or "exec" or "ps"))
        {
            return null;
        }
        var arguments = parse.Tokens.TakeWhile(t => t.Value != "--").Where(t => t.Type == System.CommandLine.Parsing.TokenType.Argument).ToList();
        if (verb is "exec" or "ps")
        {
            arguments = arguments.Take(1).ToList();
        }
        return arguments.FirstOrDefault(t => t.Value.Length > 1 && t.Value[0] == '-' && !char.IsAsciiDigit(t.Value[1]))?.Value;
    }
}
