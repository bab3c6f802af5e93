using System.Collections.Concurrent;

namespace Moat.Runtime.Metrics;

/// <summary>How long a sandbox's agent calls took and how many failed, by method.</summary>
public sealed class RpcLatencies
{
    private readonly ConcurrentDictionary<string, Method> _methods = new(StringComparer.Ordinal);

    private sealed class Method
    {
        public readonly LatencyHistogram Latency = new(LatencyHistogram.RpcBounds);
        public long Errors;
    }

    public void Observe(string method, TimeSpan elapsed, bool failed)
    {
        var m = _methods.GetOrAdd(method, static _ => new Method());
        m.Latency.Observe(elapsed);
        if (failed)
        {
            Interlocked.Increment(ref m.Errors);
        }
    }

    public IReadOnlyList<RpcMethodReport> Snapshot() =>
        _methods.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => new RpcMethodReport(p.Key, p.Value.Latency.Snapshot(), (ulong)Interlocked.Read(ref p.Value.Errors)))
            .ToList();
}

/// <summary>One agent method's calls: their latencies and how many failed.</summary>
public sealed record RpcMethodReport(string Method, HistogramSnapshot Latency, ulong Errors);
