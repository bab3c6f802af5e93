using Moat.Runtime.Metrics;

namespace Moat.Runtime.Tests;

public sealed class MetricsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-metrics-").FullName;

    [Fact]
    public void AHistogramCountsEachObservationInTheFirstBucketThatHoldsIt()
    {
        var h = new LatencyHistogram([0.1, 1, 10]);
        h.Observe(TimeSpan.FromMilliseconds(100)); // on a bound: that bucket (le is inclusive)
        h.Observe(TimeSpan.FromMilliseconds(500));
        h.Observe(TimeSpan.FromSeconds(60));       // past the last bound: only in the count
        var s = h.Snapshot();
        Assert.Equal([1UL, 1UL, 0UL], s.BucketCounts);
        Assert.Equal(3UL, s.Count);
        Assert.Equal(60.6, s.SumSeconds, 3);
    }

    [Fact]
    public void BoundsMustAscend() =>
        Assert.Throws<ArgumentException>(() => new LatencyHistogram([1, 1]));

    [Fact]
    public void RpcLatenciesKeepMethodsApartAndCountFailures()
    {
        var rpc = new RpcLatencies();
        rpc.Observe("Check", TimeSpan.FromMilliseconds(2), failed: false);
        rpc.Observe("Check", TimeSpan.FromMilliseconds(3), failed: true);
        rpc.Observe("CreateContainer", TimeSpan.FromMilliseconds(400), failed: false);
        var s = rpc.Snapshot();
        Assert.Equal(["Check", "CreateContainer"], s.Select(m => m.Method));
        Assert.Equal((2UL, 1UL), (s[0].Latency.Count, s[0].Errors));
        Assert.Equal((1UL, 0UL), (s[1].Latency.Count, s[1].Errors));
    }

    [Fact]
    public async Task NodeStartsAddUpAcrossWritersAndADamagedFileStartsOver()
    {
        await new NodeStarts(_dir).RecordAsync(NodeStarts.BootPath, TimeSpan.FromSeconds(3), CancellationToken.None);
        await new NodeStarts(_dir).RecordAsync(NodeStarts.BootPath, TimeSpan.FromSeconds(5), CancellationToken.None);
        await new NodeStarts(_dir).RecordAsync(NodeStarts.TemplatePath, TimeSpan.FromMilliseconds(300), CancellationToken.None);
        var s = new NodeStarts(_dir).Snapshot();
        Assert.Equal((2UL, 8.0), (s[NodeStarts.BootPath].Count, s[NodeStarts.BootPath].SumSeconds));
        Assert.Equal(1UL, s[NodeStarts.BootPath].BucketCounts[LatencyHistogram.StartBounds.ToList().IndexOf(4)]);
        Assert.Equal(1UL, s[NodeStarts.TemplatePath].Count);

        File.WriteAllText(Path.Combine(_dir, "metrics", "starts.json"), "{\"boot\": 7");
        Assert.Empty(new NodeStarts(_dir).Snapshot());
        File.WriteAllText(Path.Combine(_dir, "metrics", "starts.json"), "{\"boot\": {\"count\": 3}}"); // no buckets
        Assert.Empty(new NodeStarts(_dir).Snapshot());
        await new NodeStarts(_dir).RecordAsync(NodeStarts.BootPath, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal(1UL, new NodeStarts(_dir).Snapshot()[NodeStarts.BootPath].Count);
    }

    [Fact]
    public async Task ConcurrentStartsAreAllCounted()
    {
        // Writers in one process exclude each other as processes do (one open file description each).
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() =>
            new NodeStarts(_dir).RecordAsync(NodeStarts.BootPath, TimeSpan.FromSeconds(1), CancellationToken.None))));
        Assert.Equal(10UL, new NodeStarts(_dir).Snapshot()[NodeStarts.BootPath].Count);
    }

    [Fact]
    public async Task AStartIsNeverFailedByItsTally()
    {
        var notADir = Path.Combine(_dir, "file");
        File.WriteAllText(notADir, "");
        await new NodeStarts(notADir).RecordAsync(NodeStarts.BootPath, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Empty(new NodeStarts(notADir).Snapshot());
    }

    [Fact]
    public void PodIdentityComesFromTheCriAnnotations()
    {
        var pod = PodIdentity.Of(new Dictionary<string, string>
        {
            ["io.kubernetes.cri.sandbox-name"] = "web",
            ["io.kubernetes.cri.sandbox-namespace"] = "prod",
            ["io.kubernetes.cri.sandbox-uid"] = "u-1",
        });
        Assert.Equal(new PodIdentity("web", "prod", "u-1"), pod);
        Assert.Equal(PodIdentity.None, PodIdentity.Of(null));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
