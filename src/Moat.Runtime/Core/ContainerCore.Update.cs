using Moat.Oci;

namespace Moat.Runtime.Core;

public sealed partial class ContainerCore
{
    /// <summary>New limits (<paramref name="resourcesJson"/>: OCI linux.resources): the VM grows first when they need it, then the guest cgroup changes.</summary>
    public async Task UpdateAsync(string id, byte[] resourcesJson, CancellationToken ct)
    {
        var c = Get(id);
        LinuxResources? resources;
        try
        {
            resources = System.Text.Json.JsonSerializer.Deserialize(resourcesJson, OciJsonContext.Default.LinuxResources);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"task {c.Id}: invalid resources: {e.Message}");
        }
        // The VM's size is the sum over its containers: resized under the lock create and delete take.
        await _sandboxLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var limits = c.Sandbox.LimitsOf(c.Id);
            if (limits.With(resources) is var updated && updated != limits)
            {
                await c.Sandbox.ResizeForAsync(c.Id, updated, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _sandboxLock.Release();
        }
        await c.Sandbox.Guest.UpdateAsync(c.Id, resourcesJson, ct).ConfigureAwait(false);
    }
}
