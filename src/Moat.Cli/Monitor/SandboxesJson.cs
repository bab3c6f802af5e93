using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moat.Cli.Monitor;

/// <summary><c>/sandboxes</c>: the node's sandboxes as JSON, one object each.</summary>
internal static class SandboxesJson
{
    public static string Write(NodeSnapshot node) => JsonSerializer.Serialize(node.Sandboxes.Select(Entry).ToList(), SandboxJsonContext.Default.ListSandboxEntry);

    private static SandboxEntry Entry(SandboxView s)
    {
        var m = s.Metrics;
        return new SandboxEntry(m.Id, s.Namespace, new PodEntry(m.PodName, m.PodNamespace, m.PodUid), s.ShimPid, m.VmmPid, m.Accelerator, m.Restored,
            m.StartSeconds, m.Vcpus, m.MemoryBytes, m.HotpluggedMemoryBytes, m.Containers, s.VmmRssBytes, s.VmmPssBytes, s.ShimRssBytes,
            m.Guest is { } g ? new GuestEntry(g.MemTotalBytes, g.MemAvailableBytes, g.PageCacheBytes, g.CpuUserSeconds + g.CpuSystemSeconds) : null,
            m.GuestError.Length > 0 ? m.GuestError : null);
    }
}

internal sealed record PodEntry(string Name, string Namespace, string Uid);

internal sealed record GuestEntry(ulong MemTotalBytes, ulong MemAvailableBytes, ulong PageCacheBytes, double CpuSeconds);

internal sealed record SandboxEntry(
    string Id, string ContainerdNamespace, PodEntry Pod, int ShimPid, int VmmPid, string Accelerator, bool Restored, double StartSeconds,
    uint Vcpus, ulong MemoryBytes, ulong HotpluggedMemoryBytes, uint Containers, long VmmRssBytes, long VmmPssBytes, long ShimRssBytes,
    GuestEntry? Guest, string? GuestError);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<SandboxEntry>))]
internal sealed partial class SandboxJsonContext : JsonSerializerContext;
