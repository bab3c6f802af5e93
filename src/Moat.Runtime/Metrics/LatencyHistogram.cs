namespace Moat.Runtime.Metrics;

/// <summary>
/// Counts of observed durations in fixed buckets (Prometheus' histogram: per-bucket counts here,
/// made cumulative when written), their sum and number. Safe to observe from many threads.
/// </summary>
public sealed class LatencyHistogram
{
    private readonly long[] _counts;
    private long _count;
    private long _sumMicros;

    public LatencyHistogram(IReadOnlyList<double> bounds)
    {
        if (bounds.Count == 0 || bounds.Zip(bounds.Skip(1)).Any(p => p.First >= p.Second))
        {
            throw new ArgumentException("bucket bounds must be ascending and not empty", nameof(bounds));
        }
        Bounds = bounds;
        _counts = new long[bounds.Count];
    }

    /// <summary>Upper bounds of the buckets, in seconds (the +Inf bucket is implied).</summary>
    public IReadOnlyList<double> Bounds { get; }

    /// <summary>Agent calls: a millisecond to half a minute (the longest deadline).</summary>
    public static readonly IReadOnlyList<double> RpcBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Sandbox starts: a tenth of a second (a paused clone) to a minute (a cold boot under TCG).</summary>
    public static readonly IReadOnlyList<double> StartBounds = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];

    public void Observe(TimeSpan elapsed)
    {
        var seconds = Math.Max(0, elapsed.TotalSeconds);
        for (var i = 0; i < Bounds.Count; i++)
        {
            if (seconds <= Bounds[i])
            {
                Interlocked.Increment(ref _counts[i]);
                break;
            }
        }
        Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        Interlocked.Increment(ref _count);
    }

    public HistogramSnapshot Snapshot() => new(
        Bounds,
        Enumerable.Range(0, _counts.Length).Select(i => (ulong)Interlocked.Read(ref _counts[i])).ToArray(),
        (ulong)Interlocked.Read(ref _count),
        Interlocked.Read(ref _sumMicros) / 1e6);
}

/// <summary>A histogram's state at one moment.</summary>
/// <param name="BucketCounts">Observations per bucket (not cumulative), one per bound; what exceeds the last bound is Count minus their sum.</param>
public sealed record HistogramSnapshot(IReadOnlyList<double> Bounds, IReadOnlyList<ulong> BucketCounts, ulong Count, double SumSeconds)
{
    public static HistogramSnapshot Empty(IReadOnlyList<double> bounds) => new(bounds, new ulong[bounds.Count], 0, 0);
}
