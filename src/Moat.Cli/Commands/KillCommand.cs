using System.CommandLine;
using Moat.Cli.Runc;
using Moat.Oci;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Cli.Commands;

/// <summary><c>moat kill [--all] ID [SIGNAL]</c>: signal the container's process (default SIGTERM).</summary>
internal static class KillCommand
{
    public static Command Create()
    {
        var all = new Option<bool>("--all", "-a") { Description = "send the signal to every process of the container" };
        var id = new Argument<string>("container-id");
        var signal = new Argument<string>("signal") { DefaultValueFactory = _ => "SIGTERM", Description = "number or name, with or without SIG" };
        var cmd = new Command("kill", "send a signal to a container's process") { all, id, signal };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var containerId = r.GetValue(id)!;
            var text = r.GetValue(signal)!;
            if (!Moat.Linux.Signals.TryParse(text, out var sig))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"unknown signal \"{text}\": give a number (15) or a name (TERM, SIGTERM)");
            }
            var rec = CliStore.Read(r.GetValue(GlobalOptions.Root)!, containerId);
            ContainerTransitions.Check(ContainerOperation.Kill, await ShimConnection.StatusAsync(rec, ct), $"container {containerId}");
            await using var client = await ShimConnection.ConnectAsync(rec, ct);
            try
            {
                await client.KillAsync(containerId, "", (uint)sig, r.GetValue(all), ct);
            }
            catch (TtrpcException e) when (e.Code == StatusCode.NotFound)
            {
                ContainerTransitions.Check(ContainerOperation.Kill, ContainerStatus.Stopped, $"container {containerId}"); // it exited meanwhile
            }
            catch (TtrpcException e)
            {
                throw ShimConnection.Translate(e, containerId);
            }
            return 0;
        }));
        return cmd;
    }
}
