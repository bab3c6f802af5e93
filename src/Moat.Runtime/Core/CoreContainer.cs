namespace Moat.Runtime.Core;

/// <summary>A container: the VM it shares with the rest of its pod, its bundle, its processes.</summary>
public sealed class CoreContainer
{
    public required string Id { get; init; }
    public required string Bundle { get; init; }
    public required Sandbox Sandbox { get; init; }
    public required CoreProcess Init { get; init; }
    public bool Paused { get; internal set; }

    /// <summary>The CRI sandbox (pause) container, whose namespaces the pod's other containers join.</summary>
    public bool IsPodSandbox { get; init; }

    /// <summary>The host process that stands for its process (Moat's CLI relay); 0 when there is none.</summary>
    public int StandInPid { get; init; }

    /// <summary>The pod it belongs to, from its CRI annotations (<see cref="PodIdentity.None"/> outside Kubernetes).</summary>
    public Metrics.PodIdentity Pod { get; init; } = Metrics.PodIdentity.None;

    /// <summary>What the front door undoes once the container is deleted (containerd's rootfs mount).</summary>
    internal Action? Cleanup { get; init; }

    internal Dictionary<string, CoreProcess> Execs { get; } = [];

    /// <summary>The execs started and not yet exited.</summary>
    public IReadOnlyList<CoreProcess> RunningExecs()
    {
        lock (Execs)
        {
            return Execs.Values.Where(e => e.Started && !e.Exited.IsCompleted).ToList();
        }
    }
}
