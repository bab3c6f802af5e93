using Moat.Runtime.Metrics;

namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>The core's sandbox as <c>moat monitor</c> shows it, named after its pod; null when it has none.</summary>
    public async Task<SandboxReport?> ReportAsync(TimeSpan guestDeadline, CancellationToken ct)
    {
        if (_sandbox is not { } sandbox)
        {
            return null;
        }
        var report = await sandbox.ReportAsync(guestDeadline, ct).ConfigureAwait(false);
        var members = _containers.Values.Where(c => c.Sandbox == sandbox).ToList();
        var pod = (members.FirstOrDefault(c => c.IsPodSandbox) ?? members.FirstOrDefault())?.Pod ?? PodIdentity.None;
        return report with { Pod = pod };
    }
}
