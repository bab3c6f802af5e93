using Moat.Oci;

namespace Moat.Runtime.Core;

/// <summary>What a delete leaves to tell: the process deleted, and where the guest console was kept when its VM went with it.</summary>
public sealed record DeleteResult(CoreProcess Process, string? ConsoleLog);

public sealed partial class ContainerCore
{
    /// <summary>
    /// Deletes an exec's record, or a container: removed from its pod's VM, or, when it was the
    /// last one, the VM torn down (its console kept with <paramref name="keepLog"/> or
    /// <see cref="CoreSettings.KeepLogs"/>). Of two concurrent deletes one wins; the other finds nothing.
    /// With <paramref name="force"/> a container still running is deleted too (its VM goes, and everything in it).
    /// </summary>
    public async Task<DeleteResult> DeleteAsync(string id, string execId, bool keepLog = false, bool force = false)
    {
        var c = Get(id);
        var p = Process(c, execId);
        Require(force ? ContainerOperation.ForceDelete : ContainerOperation.Delete, p, c.Paused);
        string? log = null;
        if (execId.Length > 0)
        {
            lock (c.Execs)
            {
                if (!c.Execs.Remove(execId))
                {
                    throw new RuntimeException(RuntimeErrorKind.NotFound, $"{Describe(id, execId)} not found"); // a concurrent delete took it
                }
            }
            return new DeleteResult(p, null);
        }
        var removed = false;
        try
        {
            await _sandboxLock.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!_containers.TryRemove(new KeyValuePair<string, CoreContainer>(c.Id, c)))
                {
                    throw new RuntimeException(RuntimeErrorKind.NotFound, $"task {c.Id} not found"); // a concurrent delete took it
                }
                removed = true;
                if (_containers.Values.Any(o => o.Sandbox == c.Sandbox))
                {
                    await c.Sandbox.RemoveContainerAsync(c.Id, CancellationToken.None).ConfigureAwait(false); // the pod lives on
                }
                else
                {
                    log = await c.Sandbox.TearDownAsync(keepLog: keepLog || settings.KeepLogs).ConfigureAwait(false);
                    if (_sandbox == c.Sandbox)
                    {
                        _sandbox = null;
                    }
                }
            }
            finally
            {
                _sandboxLock.Release();
            }
            c.Cleanup?.Invoke();
        }
        finally
        {
            // Also when the teardown failed: the container is gone from the table, and whoever waits for its end is told.
            if (removed && !p.Exited.IsCompleted)
            {
                p.SetExited(new ProcessEnd(RuntimeException.VmDeathStatus, null)); // deleted before it ever started
            }
        }
        return new DeleteResult(p, log);
    }
}
