using System.CommandLine;
using Moat.Cli.Runc;
using Moat.Oci;
using Moat.Runtime;
using Moat.Ttrpc;

namespace Moat.Cli.Commands;

/// <summary><c>moat pause ID</c> and <c>moat resume ID</c>: freeze and thaw the container's cgroup in the guest.</summary>
internal static class PauseCommand
{
    public static Command Create(bool pause)
    {
        var id = new Argument<string>("container-id");
        var cmd = new Command(pause ? "pause" : "resume", pause ? "suspend all processes of a container" : "resume a paused container") { id };
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var containerId = r.GetValue(id)!;
            var rec = CliStore.Read(r.GetValue(GlobalOptions.Root)!, containerId);
            ContainerTransitions.Check(pause ? ContainerOperation.Pause : ContainerOperation.Resume, await ShimConnection.StatusAsync(rec, ct), $"container {containerId}");
            await using var client = await ShimConnection.ConnectAsync(rec, ct);
            try
            {
                await (pause ? client.PauseAsync(containerId, ct) : client.ResumeAsync(containerId, ct));
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
