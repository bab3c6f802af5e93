using System.CommandLine;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat run [--bundle DIR] ID</c>: create and start a container in a new VM, wait for it.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var bundle = new Option<string>("--bundle", "-b") { Description = "path to the OCI bundle", DefaultValueFactory = _ => "." };
        var id = new Argument<string>("container-id") { Description = "unique container id" };
        var cmd = new Command("run", "create and run a container in its own VM") { bundle, id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var options = GlobalOptions.RuntimeOptions(r);
            var log = new PhaseLog(options.Debug ? Console.Error.WriteLine : null);
            var run = new ContainerRun(options, log);
            return await run.RunAsync(r.GetValue(id)!, r.GetValue(bundle)!,
                Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.OpenStandardError(), ct);
        }));
        return cmd;
    }
}
