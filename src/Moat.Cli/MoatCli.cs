using System.CommandLine;
using Moat.Cli.Commands;

namespace Moat.Cli;

internal static class MoatCli
{
    public const string Version = "0.1.0";

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Moat: run OCI containers, each in its own lightweight VM");
        GlobalOptions.AddTo(root);
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(ImageCommand.Create());
        root.Subcommands.Add(SpecCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(InstallCommand.Create());
        root.Subcommands.Add(ListCommand.Create());
        var parse = root.Parse(args);
        // Signals are the container's business (moat run forwards them), not the parser's.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}
