using Moat.Oci;

namespace Moat.Runtime;

/// <summary>A namespace (<c>pid</c>, <c>ipc</c>, <c>uts</c>) a pod member shares with another container of the VM.</summary>
public sealed record NamespaceJoin(string Type, string ContainerId);

/// <summary>What a guest process's output read returned: some bytes, and whether the stream ended.</summary>
public readonly record struct GuestOutput(ReadOnlyMemory<byte> Data, bool Eof);

/// <summary>
/// The container operations a sandbox's guest agent performs, in the runtime's terms: no wire
/// types cross it, and a failure is an <see cref="AgentException"/> whose kind says what went
/// wrong. <see cref="GuestAgent"/> speaks ttrpc to the agent in the VM; tests use a fake.
/// </summary>
public interface IGuestAgent
{
    Task CreateContainerAsync(string containerId, Spec guestSpec, bool stdin, IReadOnlyList<NamespaceJoin> joins, CancellationToken ct);

    /// <summary>Starts the container's process; its pid in the guest.</summary>
    Task<int> StartAsync(string containerId, CancellationToken ct);

    /// <summary>Starts a further process (<paramref name="processJson"/>: an OCI process) in the container; its pid in the guest.</summary>
    Task<int> ExecAsync(string containerId, string execId, ReadOnlyMemory<byte> processJson, bool stdin, CancellationToken ct);

    /// <summary>The process's exit status (128 + n for signal n), once it has exited.</summary>
    Task<int> WaitAsync(string containerId, string execId, CancellationToken ct);

    Task SignalAsync(string containerId, string execId, uint signal, bool all, CancellationToken ct);

    Task<GuestOutput> ReadOutputAsync(string containerId, string execId, bool stderr, int maxBytes, CancellationToken ct);

    Task WriteStdinAsync(string containerId, string execId, ReadOnlyMemory<byte> data, CancellationToken ct);

    Task CloseStdinAsync(string containerId, string execId, CancellationToken ct);

    Task ResizeTtyAsync(string containerId, string execId, uint rows, uint columns, CancellationToken ct);

    Task PauseAsync(string containerId, CancellationToken ct);

    Task ResumeAsync(string containerId, CancellationToken ct);

    /// <summary>New limits (<paramref name="resourcesJson"/>: OCI linux.resources) for the container's cgroup in the guest.</summary>
    Task UpdateAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken ct);

    /// <summary>The container's cgroup files in the guest, by name.</summary>
    Task<IReadOnlyDictionary<string, string>> StatsAsync(string containerId, CancellationToken ct);

    /// <summary>Kills what is left of the container in the guest and forgets it.</summary>
    Task RemoveAsync(string containerId, CancellationToken ct);

    /// <summary>Waits for the next OOM kill in the guest; the container it names (unchecked: the guest may lie).</summary>
    Task<string> NextOomKillAsync(CancellationToken ct);

    /// <summary>Brings the guest's CPUs online up to <paramref name="count"/>; how many are online.</summary>
    Task<int> OnlineCpusAsync(int count, CancellationToken ct);

    /// <summary>The guest's memory and CPU time, as the guest reports them (unchecked).</summary>
    Task<GuestUsage> UsageAsync(TimeSpan timeout, CancellationToken ct);
}

/// <summary>What the guest says of its memory (bytes) and CPU time (seconds, summed over its CPUs).</summary>
public sealed record GuestUsage(
    ulong MemTotalBytes, ulong MemFreeBytes, ulong MemAvailableBytes, ulong PageCacheBytes,
    double CpuUserSeconds, double CpuSystemSeconds, double CpuIdleSeconds, uint Processes);
