using Moat.Tests.Shared;
using System.Net;
using Moat.Cli.Commands;
using Moat.Cli.Monitor;
using Moat.Protocols.Containerd;
using Moat.Protocols.Monitor;
using Moat.Runtime;
using Moat.Runtime.Metrics;
using Moat.Ttrpc;

namespace Moat.Cli.Tests;

/// <summary>
/// <c>moat monitor</c> without VMs: shims stood in for by ttrpc servers on a temp node directory
/// (one answering, one wedged, one dead), scraped over real sockets and served over real HTTP.
/// </summary>
public sealed class MonitorTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-monitor-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _servers = [];

    private RuntimeOptions Options => new() { NodeDir = Path.Combine(_dir, "node"), DataDir = Path.Combine(_dir, "data"), StateRoot = Path.Combine(_dir, "state") };

    private static SandboxMetrics Pod(string id) => new()
    {
        Id = id,
        PodName = "web \"blue\"",
        PodNamespace = "prod",
        PodUid = "u-1",
        VmmPid = Environment.ProcessId,
        Accelerator = "tcg",
        Restored = true,
        StartSeconds = 0.42,
        Vcpus = 2,
        MemoryBytes = 640UL << 20,
        HotpluggedMemoryBytes = 128UL << 20,
        Containers = 2,
        Guest = new Moat.Protocols.Monitor.GuestUsage { MemTotalBytes = 600UL << 20, MemAvailableBytes = 500UL << 20, PageCacheBytes = 10UL << 20, CpuUserSeconds = 1.5, CpuSystemSeconds = 0.5, CpuIdleSeconds = 9 },
        Rpcs =
        {
            new RpcMethod
            {
                Method = "CreateContainer",
                Errors = 1,
                Latency = new Histogram { Bounds = { 0.1, 1 }, BucketCounts = { 1, 2 }, Count = 4, SumSeconds = 3.5 },
            },
        },
    };

    /// <summary>A shim's monitor service on <paramref name="name"/>.sock; <paramref name="answer"/> null: it never answers.</summary>
    private async Task ShimAsync(string name, SandboxMetrics? answer)
    {
        var dir = Options.ShimSocketDir;
        Directory.CreateDirectory(dir);
        var server = new TtrpcServer();
        MonitorServiceBinder.Bind(server, async (_, context) =>
        {
            if (answer is null)
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            return new SandboxesResponse { ShimPid = Environment.ProcessId, Namespace = "k8s.io", Sandboxes = { answer! } };
        });
        var listening = new TaskCompletionSource();
        _servers.Add(server.ListenUnixAsync(Path.Combine(dir, name + ".sock"), _stop.Token, listening.SetResult));
        await listening.Task;
    }

    [Fact]
    public async Task AScrapeTakesWhatAnsweredAndCountsADeadAndAWedgedShimWithoutWaitingForThem()
    {
        await ShimAsync("a", Pod("pod-a"));
        await ShimAsync("b", null);
        File.WriteAllText(Path.Combine(Options.ShimSocketDir, "c.sock"), ""); // a dead shim's leftover: nobody listens

        // The deadline leaves a loaded machine (CI runs test projects side by side) time for the
        // first ttrpc call's start-up; the wedged shim must still not hold the scrape past it.
        var scrape = new NodeScraper(Options, TimeSpan.FromSeconds(3)).ScrapeAsync(CancellationToken.None);
        Assert.Same(scrape, await Task.WhenAny(scrape, Task.Delay(TimeSpan.FromSeconds(15)))); // bounded by the deadline, not by the wedged shim
        var node = await scrape;

        Assert.Equal(["pod-a"], node.Sandboxes.Select(s => s.Metrics.Id));
        Assert.Equal(2, node.Unreachable);
        var a = node.Sandboxes[0];
        Assert.Equal(("k8s.io", Environment.ProcessId), (a.Namespace, a.ShimPid));
        Assert.True(a.ShimRssBytes > 0 && a.VmmRssBytes > 0 && a.VmmPssBytes > 0); // this process stands for both, read from /proc
    }

    [Fact]
    public async Task TheMetricsNameEverySandboxByPodAndFollowTheTextFormat()
    {
        await ShimAsync("a", Pod("pod-a"));
        var node = await new NodeScraper(Options, TimeSpan.FromSeconds(5)).ScrapeAsync(CancellationToken.None);
        var text = NodeMetrics.Write(node with { Starts = new Dictionary<string, HistogramSnapshot> { ["boot"] = new(LatencyHistogram.StartBounds, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0], 1, 0.8) } }, 7);
        var lines = text.Split('\n');

        const string labels = "sandbox=\"pod-a\",containerd_namespace=\"k8s.io\",pod_name=\"web \\\"blue\\\"\",pod_namespace=\"prod\",pod_uid=\"u-1\"";
        Assert.Contains($"moat_sandbox_info{{{labels},accelerator=\"tcg\",restored=\"true\"}} 1", lines);
        Assert.Contains($"moat_sandbox_guest_memory_used_bytes{{{labels}}} {100 << 20}", lines);
        Assert.Contains($"moat_sandbox_guest_cpu_seconds_total{{{labels},mode=\"user\"}} 1.5", lines);
        Assert.Contains($"moat_sandbox_hotplugged_memory_bytes{{{labels}}} {128 << 20}", lines);
        // cumulative buckets, +Inf holding the count
        Assert.Contains($"moat_agent_rpc_duration_seconds_bucket{{{labels},method=\"CreateContainer\",le=\"0.1\"}} 1", lines);
        Assert.Contains($"moat_agent_rpc_duration_seconds_bucket{{{labels},method=\"CreateContainer\",le=\"1\"}} 3", lines);
        Assert.Contains($"moat_agent_rpc_duration_seconds_bucket{{{labels},method=\"CreateContainer\",le=\"+Inf\"}} 4", lines);
        Assert.Contains($"moat_agent_rpc_errors_total{{{labels},method=\"CreateContainer\"}} 1", lines);
        Assert.Contains("moat_sandbox_starts_total{path=\"boot\"} 1", lines);
        Assert.Contains("moat_sandbox_starts_total{path=\"template\"} 0", lines);
        Assert.Contains("moat_sandbox_start_duration_seconds_bucket{path=\"boot\",le=\"1\"} 1", lines);
        Assert.Contains("moat_sandboxes{accelerator=\"tcg\"} 1", lines);
        Assert.Contains("moat_monitor_scrape_errors_total 7", lines);

        // Every sample follows its own family's HELP and TYPE, and no family appears twice.
        var families = lines.Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToList();
        Assert.Equal(families.Count, families.Distinct().Count());
        string? current = null;
        foreach (var l in lines.Where(l => l.Length > 0))
        {
            if (l.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                current = l.Split(' ')[2];
            }
            else if (!l.StartsWith('#'))
            {
                var name = l[..l.IndexOfAny(['{', ' '])];
                Assert.True(name == current || name.StartsWith(current + "_", StringComparison.Ordinal), $"{name} under {current}");
            }
        }
    }

    [Fact]
    public async Task AGuestThatDidNotAnswerHasNoGuestSeriesButStaysListed()
    {
        var quiet = Pod("pod-q");
        quiet.Guest = null;
        quiet.GuestError = "GuestMetrics: deadline exceeded";
        await ShimAsync("q", quiet);
        var node = await new NodeScraper(Options, TimeSpan.FromSeconds(5)).ScrapeAsync(CancellationToken.None);
        var lines = NodeMetrics.Write(node, 0).Split('\n');
        Assert.Contains(lines, l => l.StartsWith("moat_sandbox_guest_up{sandbox=\"pod-q\"", StringComparison.Ordinal) && l.EndsWith(" 0", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("moat_sandbox_vcpus{sandbox=\"pod-q\"", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("moat_sandbox_guest_memory_total_bytes{", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheServerAnswersMetricsAndSandboxesAndRefusesTheRest()
    {
        await ShimAsync("a", Pod("pod-a"));
        var port = TestHost.FreePort();
        var serving = new MonitorServer(new NodeScraper(Options, TimeSpan.FromSeconds(5)), _ => { }).ServeAsync(MonitorCommand.Prefix($"127.0.0.1:{port}"), _stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };

        using var metrics = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
        Assert.Contains("moat_sandbox_info{sandbox=\"pod-a\"", await metrics.Content.ReadAsStringAsync());

        var json = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("sandboxes")).RootElement;
        Assert.Equal("pod-a", json[0].GetProperty("id").GetString());
        Assert.Equal("prod", json[0].GetProperty("pod").GetProperty("namespace").GetString());
        Assert.Equal(600L << 20, json[0].GetProperty("guest").GetProperty("mem_total_bytes").GetInt64());

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("nope")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync("metrics", new StringContent(""))).StatusCode);
        await _stop.CancelAsync();
        await serving;
    }

    [Theory]
    [InlineData("127.0.0.1:8090", "http://127.0.0.1:8090/")]
    [InlineData("[::1]:9000", "http://[::1]:9000/")]
    [InlineData("0.0.0.0:9100", "http://+:9100/")]
    public void ListenAddressesBecomePrefixes(string listen, string prefix) => Assert.Equal(prefix, MonitorCommand.Prefix(listen));

    [Theory]
    [InlineData("localhost:8090")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    public void ABadListenAddressIsRefusedByName(string listen)
    {
        var e = Assert.Throws<RuntimeException>(() => MonitorCommand.Prefix(listen));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.StartsWith($"--listen {listen}:", e.Message);
    }

    // xunit 2 disposes a test class through IAsyncLifetime (IAsyncDisposable alone is never called).
    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_servers.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        Directory.Delete(_dir, recursive: true);
    }
}
