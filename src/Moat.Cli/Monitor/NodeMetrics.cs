using Moat.Protocols.Monitor;
using Moat.Runtime.Metrics;

namespace Moat.Cli.Monitor;

/// <summary>
/// The metrics <c>moat monitor</c> serves, from one <see cref="NodeSnapshot"/>: per sandbox
/// (labelled with its id and, under Kubernetes, its pod) and per node. Names follow Prometheus'
/// conventions: the <c>moat_</c> prefix, base units (bytes, seconds), <c>_total</c> on counters.
/// </summary>
internal static class NodeMetrics
{
    public static string Write(NodeSnapshot node, long scrapeErrorsTotal)
    {
        var t = new PrometheusText();
        var sandboxes = node.Sandboxes;

        t.Family("moat_sandbox_info", "gauge", "A Moat sandbox (one VM) on this node; always 1, its labels say what it is.");
        foreach (var s in sandboxes)
        {
            t.Sample("moat_sandbox_info", [.. Labels(s), ("accelerator", s.Metrics.Accelerator), ("restored", s.Metrics.Restored ? "true" : "false")], 1);
        }
        PerSandbox(t, sandboxes, "moat_sandbox_containers", "gauge", "Containers in the sandbox's VM.", s => s.Metrics.Containers);
        PerSandbox(t, sandboxes, "moat_sandbox_vcpus", "gauge", "vCPUs of the sandbox's VM, hotplugged ones included.", s => s.Metrics.Vcpus);
        PerSandbox(t, sandboxes, "moat_sandbox_memory_bytes", "gauge", "Memory of the sandbox's VM, hotplugged memory included.", s => s.Metrics.MemoryBytes);
        PerSandbox(t, sandboxes, "moat_sandbox_hotplugged_memory_bytes", "gauge", "Memory hotplugged into the sandbox's VM after it started.", s => s.Metrics.HotpluggedMemoryBytes);
        PerSandbox(t, sandboxes, "moat_sandbox_start_seconds", "gauge", "How long the sandbox took to start, up to its guest being set up.", s => s.Metrics.StartSeconds);
        PerSandbox(t, sandboxes, "moat_sandbox_vmm_rss_bytes", "gauge", "Resident memory of the sandbox's QEMU on the host.", s => s.VmmRssBytes);
        PerSandbox(t, sandboxes, "moat_sandbox_vmm_pss_bytes", "gauge", "Proportional set size of the sandbox's QEMU on the host (shared pages split among sharers).", s => s.VmmPssBytes);
        PerSandbox(t, sandboxes, "moat_sandbox_shim_rss_bytes", "gauge", "Resident memory of the sandbox's shim daemon on the host.", s => s.ShimRssBytes);
        PerSandbox(t, sandboxes, "moat_sandbox_guest_up", "gauge", "1 when the guest answered this scrape in time, else 0 (its guest_ series are then missing).", s => s.Metrics.Guest is null ? 0 : 1);

        var answered = sandboxes.Where(s => s.Metrics.Guest is not null).ToList();
        PerSandbox(t, answered, "moat_sandbox_guest_memory_total_bytes", "gauge", "Memory the guest kernel manages (MemTotal), as the guest reports it.", s => s.Metrics.Guest.MemTotalBytes);
        PerSandbox(t, answered, "moat_sandbox_guest_memory_used_bytes", "gauge", "Guest memory in use (MemTotal - MemAvailable), as the guest reports it.",
            s => GuestUsedBytes(s.Metrics.Guest));
        PerSandbox(t, answered, "moat_sandbox_guest_memory_available_bytes", "gauge", "Guest memory available to new work (MemAvailable), as the guest reports it.", s => s.Metrics.Guest.MemAvailableBytes);
        PerSandbox(t, answered, "moat_sandbox_guest_page_cache_bytes", "gauge", "The guest's page cache (Cached), as the guest reports it.", s => s.Metrics.Guest.PageCacheBytes);
        PerSandbox(t, answered, "moat_sandbox_guest_processes", "gauge", "Runnable and blocked processes in the guest, as the guest reports it.", s => s.Metrics.Guest.Processes);
        t.Family("moat_sandbox_guest_cpu_seconds_total", "counter", "CPU time of the guest, summed over its vCPUs, by mode, as the guest reports it.");
        foreach (var s in answered)
        {
            var g = s.Metrics.Guest;
            foreach (var (mode, seconds) in new[] { ("user", g.CpuUserSeconds), ("system", g.CpuSystemSeconds), ("idle", g.CpuIdleSeconds) })
            {
                t.Sample("moat_sandbox_guest_cpu_seconds_total", [.. Labels(s), ("mode", mode)], seconds);
            }
        }

        t.Family("moat_agent_rpc_duration_seconds", "histogram", "Calls from the host to the sandbox's guest agent (long polls excluded), by method.");
        foreach (var s in sandboxes)
        {
            foreach (var rpc in s.Metrics.Rpcs)
            {
                t.Histogram("moat_agent_rpc_duration_seconds", [.. Labels(s), ("method", rpc.Method)], FromWire(rpc.Latency));
            }
        }
        t.Family("moat_agent_rpc_errors_total", "counter", "Calls from the host to the sandbox's guest agent that failed, by method.");
        foreach (var s in sandboxes)
        {
            foreach (var rpc in s.Metrics.Rpcs)
            {
                t.Sample("moat_agent_rpc_errors_total", [.. Labels(s), ("method", rpc.Method)], rpc.Errors);
            }
        }

        t.Family("moat_sandboxes", "gauge", "Moat sandboxes answering on this node, by accelerator.");
        foreach (var accel in new[] { "kvm", "tcg" })
        {
            t.Sample("moat_sandboxes", [("accelerator", accel)], sandboxes.Count(s => s.Metrics.Accelerator == accel));
        }
        t.Family("moat_sandbox_starts_total", "counter", "Sandbox starts on this node since it booted, by path (restored from a template, or booted).");
        foreach (var path in new[] { NodeStarts.TemplatePath, NodeStarts.BootPath })
        {
            t.Sample("moat_sandbox_starts_total", [("path", path)], node.Starts.GetValueOrDefault(path)?.Count ?? 0);
        }
        t.Family("moat_sandbox_start_duration_seconds", "histogram", "How long sandbox starts on this node took, by path.");
        foreach (var path in new[] { NodeStarts.TemplatePath, NodeStarts.BootPath })
        {
            t.Histogram("moat_sandbox_start_duration_seconds", [("path", path)],
                node.Starts.GetValueOrDefault(path) ?? HistogramSnapshot.Empty(LatencyHistogram.StartBounds));
        }
        t.Family("moat_templates", "gauge", "VM templates saved on this node.");
        t.Sample("moat_templates", [], node.Templates);
        t.Family("moat_accelerator_canary_works", "gauge", "1 when the accelerator's canary boot ran the installed guest, 0 when it did not (missing: never checked).");
        foreach (var v in node.Canaries)
        {
            t.Sample("moat_accelerator_canary_works", [("accelerator", v.Accelerator), ("source", v.Source)], v.Works ? 1 : 0);
        }
        t.Family("moat_monitor_unreachable_sandboxes", "gauge", "Shims that did not answer this scrape within its deadline (their sandboxes are missing from it).");
        t.Sample("moat_monitor_unreachable_sandboxes", [], node.Unreachable);
        t.Family("moat_monitor_scrape_errors_total", "counter", "Shims that did not answer a scrape of the node in time, over this monitor's life.");
        t.Sample("moat_monitor_scrape_errors_total", [], scrapeErrorsTotal);
        t.Family("moat_monitor_scrape_duration_seconds", "gauge", "How long this scrape of the node's sandboxes took.");
        t.Sample("moat_monitor_scrape_duration_seconds", [], node.Took.TotalSeconds);
        return t.ToString();
    }

    /// <summary>What the guest has in use: MemTotal less MemAvailable (never below zero, whatever the guest claims).</summary>
    public static ulong GuestUsedBytes(GuestUsage g) => g.MemTotalBytes - Math.Min(g.MemTotalBytes, g.MemAvailableBytes);

    private static void PerSandbox(PrometheusText t, IReadOnlyList<SandboxView> sandboxes, string name, string type, string help, Func<SandboxView, double> value)
    {
        t.Family(name, type, help);
        foreach (var s in sandboxes)
        {
            t.Sample(name, Labels(s), value(s));
        }
    }

    /// <summary>Every sandbox series carries these: the sandbox id, its containerd namespace, and its pod's identity (empty outside Kubernetes).</summary>
    private static (string, string)[] Labels(SandboxView s) =>
    [
        ("sandbox", s.Metrics.Id),
        ("containerd_namespace", s.Namespace),
        ("pod_name", s.Metrics.PodName),
        ("pod_namespace", s.Metrics.PodNamespace),
        ("pod_uid", s.Metrics.PodUid),
    ];

    private static HistogramSnapshot FromWire(Histogram h) =>
        h is null ? HistogramSnapshot.Empty(LatencyHistogram.RpcBounds) : new(h.Bounds, h.BucketCounts, h.Count, h.SumSeconds);
}
