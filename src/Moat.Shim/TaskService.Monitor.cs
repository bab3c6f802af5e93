using Moat.Protocols.Monitor;
using Moat.Runtime.Metrics;
using Moat.Ttrpc;

namespace Moat.Shim;

/// <summary>The monitor service (moat.monitor.v1.Monitor): the core's sandbox report, as protobuf.</summary>
internal sealed partial class TaskService
{
    private static readonly TimeSpan MinGuestDeadline = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxGuestDeadline = TimeSpan.FromSeconds(5);

    public async Task<SandboxesResponse> Sandboxes(SandboxesRequest request, TtrpcCallContext context)
    {
        var deadline = TimeSpan.FromMilliseconds(request.GuestDeadlineMs);
        deadline = deadline < MinGuestDeadline ? MinGuestDeadline : deadline > MaxGuestDeadline ? MaxGuestDeadline : deadline;
        var response = new SandboxesResponse { ShimPid = Environment.ProcessId, Namespace = _args.Namespace };
        if (await _core.ReportAsync(deadline, context.CancellationToken).ConfigureAwait(false) is { } r)
        {
            response.Sandboxes.Add(ToWire(r));
        }
        return response;
    }

    private static SandboxMetrics ToWire(SandboxReport r)
    {
        var m = new SandboxMetrics
        {
            Id = r.Id,
            PodName = r.Pod.Name,
            PodNamespace = r.Pod.Namespace,
            PodUid = r.Pod.Uid,
            VmmPid = r.VmmPid,
            Accelerator = r.Accelerator,
            Restored = r.Restored,
            StartSeconds = r.StartSeconds,
            Vcpus = (uint)r.Vcpus,
            MemoryBytes = (ulong)r.MemoryBytes,
            HotpluggedMemoryBytes = (ulong)Math.Max(0, r.HotpluggedMemoryBytes),
            Containers = (uint)r.Containers,
            GuestError = r.GuestError ?? "",
        };
        if (r.Guest is { } g)
        {
            m.Guest = new GuestUsage
            {
                MemTotalBytes = g.MemTotalBytes,
                MemFreeBytes = g.MemFreeBytes,
                MemAvailableBytes = g.MemAvailableBytes,
                PageCacheBytes = g.PageCacheBytes,
                CpuUserSeconds = g.CpuUserSeconds,
                CpuSystemSeconds = g.CpuSystemSeconds,
                CpuIdleSeconds = g.CpuIdleSeconds,
                Processes = g.Processes,
            };
        }
        foreach (var rpc in r.Rpcs)
        {
            m.Rpcs.Add(new RpcMethod
            {
                Method = rpc.Method,
                Errors = rpc.Errors,
                Latency = new Histogram
                {
                    Bounds = { rpc.Latency.Bounds },
                    BucketCounts = { rpc.Latency.BucketCounts },
                    Count = rpc.Latency.Count,
                    SumSeconds = rpc.Latency.SumSeconds,
                },
            });
        }
        return m;
    }
}
