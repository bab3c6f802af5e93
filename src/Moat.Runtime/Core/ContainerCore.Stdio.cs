namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>Sets the size of a process's terminal.</summary>
    public async Task ResizeTtyAsync(string id, string execId, uint rows, uint columns, CancellationToken ct)
    {
        var c = Get(id);
        Process(c, execId);
        await c.Sandbox.Guest.ResizeTtyAsync(c.Id, execId, rows, columns, ct).ConfigureAwait(false);
    }

    /// <summary>Ends a process's input: nothing more is copied, and the guest closes its stdin.</summary>
    public async Task CloseStdinAsync(string id, string execId, CancellationToken ct)
    {
        var c = Get(id);
        var p = Process(c, execId);
        await p.StdinCancel.CancelAsync().ConfigureAwait(false);
        await c.Sandbox.Guest.CloseStdinAsync(c.Id, execId, ct).ConfigureAwait(false);
    }
}
