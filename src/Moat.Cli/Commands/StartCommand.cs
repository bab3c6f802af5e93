using System.CommandLine;
using Moat.Cli.Runc;

namespace Moat.Cli.Commands;

/// <summary><c>moat start ID</c>: run the process of a created container.</summary>
internal static class StartCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("container-id");
        var cmd = new Command("start", "start the process of a created container") { id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            await Lifecycle.StartAsync(r.GetValue(GlobalOptions.Root)!, r.GetValue(id)!, ct);
            return 0;
        }));
        return cmd;
    }
}
