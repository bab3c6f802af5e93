namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>The container's cgroup files in the guest, by name (front doors turn them into their metrics).</summary>
    public async Task<IReadOnlyDictionary<string, string>> StatsAsync(string id, CancellationToken ct)
    {
        var c = Get(id);
        return await c.Sandbox.Guest.StatsAsync(c.Id, ct).ConfigureAwait(false);
    }
}
