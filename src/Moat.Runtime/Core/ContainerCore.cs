using System.Collections.Concurrent;
using Moat.Oci;

namespace Moat.Runtime.Core;

/// <summary>How a front door plugs into the core: where its logs and events go, how it opens a process's stdio.</summary>
/// <param name="Log">One-line reports (the shim's log).</param>
/// <param name="Phases">Start phases of a sandbox, with timings (debug).</param>
/// <param name="OpenIo">Opens a process's stdio when it starts.</param>
/// <param name="KeepLogs">Keep the guest console of every sandbox torn down (debug), not only of failed starts.</param>
/// <param name="Vms">Makes VMs (QEMU unless given).</param>
public sealed record CoreSettings(
    Action<string> Log,
    PhaseLog Phases,
    ICoreEvents Events,
    Func<ProcessIo, CancellationToken, Task<ProcessStreams>> OpenIo,
    bool KeepLogs,
    VmFactory? Vms = null);

/// <summary>
/// One container core: the containers of one sandbox (a pod, or a single container), each
/// operation in its own file (<c>ContainerCore.Create.cs</c>, <c>.Start.cs</c> ...), the status
/// rules asked of <see cref="ContainerTransitions"/>. Front doors (the shim's task service,
/// foreground <c>moat run</c>) only translate to and from it. Errors are typed
/// (<see cref="RuntimeException"/>, <see cref="AgentException"/>, <see cref="ContainerStateException"/>,
/// <see cref="OciException"/>) and name the container.
/// </summary>
public sealed partial class ContainerCore(CoreSettings settings)
{
    private readonly ConcurrentDictionary<string, CoreContainer> _containers = new();

    // One VM per core: every container of the group (a pod) is created in it. Creating,
    // deleting and resizing are serialized, so the VM is booted once and torn down after the last.
    private readonly SemaphoreSlim _sandboxLock = new(1, 1);
    private Sandbox? _sandbox;

    public bool IsEmpty => _containers.IsEmpty;

    public CoreContainer Get(string id) =>
        _containers.TryGetValue(id, out var c) ? c : throw new RuntimeException(RuntimeErrorKind.NotFound, $"task {id} not found");

    /// <summary>The container's init (<paramref name="execId"/> empty) or one of its execs.</summary>
    public static CoreProcess Process(CoreContainer c, string execId)
    {
        if (string.IsNullOrEmpty(execId))
        {
            return c.Init;
        }
        lock (c.Execs)
        {
            return c.Execs.TryGetValue(execId, out var p) ? p : throw new RuntimeException(RuntimeErrorKind.NotFound, $"exec {execId} not found in task {c.Id}");
        }
    }

    /// <summary>The init process of <paramref name="id"/>, or null when there is no such container.</summary>
    public CoreProcess? InitOf(string id) => _containers.TryGetValue(id, out var c) ? c.Init : null;

    /// <summary>Refuses <paramref name="op"/> unless the status rules allow it now.</summary>
    private static void Require(ContainerOperation op, CoreProcess p, bool paused)
    {
        if (ContainerTransitions.Refusal(op, p.OciStatus(paused), Describe(p.ContainerId, p.ExecId)) is { } why)
        {
            throw new ContainerStateException(op, p.OciStatus(paused), why);
        }
    }

    public static string Describe(string id, string execId) => string.IsNullOrEmpty(execId) ? $"task {id}" : $"exec {execId} of task {id}";
}
