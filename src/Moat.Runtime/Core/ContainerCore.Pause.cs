using Moat.Oci;

namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>Freezes every process of the container (its cgroup in the guest).</summary>
    public async Task PauseAsync(string id, CancellationToken ct)
    {
        var c = Get(id);
        Require(ContainerOperation.Pause, c.Init, c.Paused);
        await c.Sandbox.Guest.PauseAsync(c.Id, ct).ConfigureAwait(false);
        c.Paused = true;
    }

    public async Task ResumeAsync(string id, CancellationToken ct)
    {
        var c = Get(id);
        Require(ContainerOperation.Resume, c.Init, c.Paused);
        await c.Sandbox.Guest.ResumeAsync(c.Id, ct).ConfigureAwait(false);
        c.Paused = false;
    }
}
