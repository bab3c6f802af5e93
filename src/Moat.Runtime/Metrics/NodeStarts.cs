using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moat.Runtime.Metrics;

/// <summary>
/// The node's sandbox starts since it booted, by path (restored from a template, or booted): a
/// count and a latency histogram per path in one small file on the node directory (a tmpfs), so
/// they outlive the shims that did the starts. Every start adds itself under a lock (temp file
/// and rename: a reader sees the old tally or the new one); <c>moat monitor</c> reads it.
/// </summary>
public sealed class NodeStarts(string nodeDir)
{
    public const string TemplatePath = "template";
    public const string BootPath = "boot";

    private string Dir => Path.Combine(nodeDir, "metrics");
    private string FilePath => Path.Combine(Dir, "starts.json");

    /// <summary>
    /// Adds one start. Never fails the start it counts: a lock not had within a second, an
    /// unwritable directory, a damaged file only cost this one count.
    /// </summary>
    public async Task RecordAsync(string path, TimeSpan elapsed, CancellationToken ct)
    {
        try
        {
            Directory.CreateDirectory(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var held = await FileLock.AcquireAsync(Path.Combine(Dir, "starts.lock"), TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            if (held is null)
            {
                return;
            }
            using (held)
            {
                Add(path, elapsed);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private void Add(string path, TimeSpan elapsed)
    {
        var tallies = Read();
        var histogram = new LatencyHistogram(LatencyHistogram.StartBounds);
        histogram.Observe(elapsed);
        var one = histogram.Snapshot();
        var before = tallies.GetValueOrDefault(path) is { } t && t.Buckets.Count == one.BucketCounts.Count ? t : null;
        tallies[path] = before is null
            ? new StartTally(one.Count, one.SumSeconds, one.BucketCounts.ToList())
            : new StartTally(before.Count + 1, before.SumSeconds + one.SumSeconds, before.Buckets.Zip(one.BucketCounts, (a, b) => a + b).ToList());
        Moat.Linux.AtomicFile.Write(FilePath, JsonSerializer.SerializeToUtf8Bytes(tallies, StartsJson.Default.DictionaryStringStartTally), Moat.Linux.AtomicFile.Private);
    }

    /// <summary>The tallies by path (empty when nothing started yet, or the file is unreadable).</summary>
    public IReadOnlyDictionary<string, HistogramSnapshot> Snapshot() =>
        Read().Where(p => p.Value.Buckets.Count == LatencyHistogram.StartBounds.Count)
            .ToDictionary(p => p.Key, p => new HistogramSnapshot(LatencyHistogram.StartBounds, p.Value.Buckets, p.Value.Count, p.Value.SumSeconds), StringComparer.Ordinal);

    private Dictionary<string, StartTally> Read()
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), StartsJson.Default.DictionaryStringStartTally) ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return [];
        }
    }
}

/// <summary>One path's starts: how many, their summed seconds, and per-bucket counts (<see cref="LatencyHistogram.StartBounds"/>).</summary>
public sealed record StartTally(ulong Count, double SumSeconds, IReadOnlyList<ulong> Buckets);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Dictionary<string, StartTally>))]
internal sealed partial class StartsJson : JsonSerializerContext;
