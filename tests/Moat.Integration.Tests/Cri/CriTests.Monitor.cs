using Moat.Tests.Shared;
using System.Net;
using System.Text.Json;

namespace Moat.Integration.Tests.Cri;

/// <summary><c>moat monitor</c> scraped by a real Prometheus server (Debian's) while two CRI pods run.</summary>
public sealed partial class CriTests
{
    [Fact]
    public async Task PrometheusScrapesEachPodsMemoryAndTheNodesStartsFromMoatMonitor()
    {
        var dir = Directory.CreateTempSubdirectory("moat-prometheus-").FullName;
        var (monitorPort, promPort) = (TestHost.FreePort(), TestHost.FreePort());
        using var monitor = Cmd.Start(Cmd.Moat, ["monitor", "--listen", $"127.0.0.1:{monitorPort}"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        // The node's tally counts every start since it booted: these two pods must add two.
        var startsBefore = StartsIn(await RetryAsync(() => http.GetStringAsync($"http://127.0.0.1:{monitorPort}/metrics")));
        var (podA, _) = await RunPod("watched-a");
        var (podB, _) = await RunPod("watched-b");
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"), $"""
            global:
              scrape_interval: 2s
              scrape_timeout: 2s
            scrape_configs:
              - job_name: moat
                static_configs:
                  - targets: ['127.0.0.1:{monitorPort}']
            """);
        using var prometheus = PrivateContainerd.StartLogged("prometheus", [
            "--config.file", Path.Combine(dir, "prometheus.yml"),
            "--storage.tsdb.path", Path.Combine(dir, "data"),
            "--web.listen-address", $"127.0.0.1:{promPort}",
        ], Path.Combine(dir, "prometheus.log"));
        try
        {
            // What the monitor serves passes Prometheus' own linter.
            var exposition = await RetryAsync(() => http.GetStringAsync($"http://127.0.0.1:{monitorPort}/metrics"));
            var lint = await Cmd.RunAsync("promtool", ["check", "metrics"], stdin: exposition);
            Assert.True(lint.ExitCode == 0, lint.ToString());

            // The server scraped it: each pod's guest memory, QEMU's PSS and start, named after the pod.
            var memory = await QueryUntilAsync(http, promPort, "moat_sandbox_guest_memory_total_bytes{pod_namespace=\"moat-test\"}", 2);
            Assert.Equal(["watched-a", "watched-b"], memory.Select(r => r.GetProperty("metric").GetProperty("pod_name").GetString()).Order());
            Assert.Equal(new[] { podA, podB }.Order(), memory.Select(r => r.GetProperty("metric").GetProperty("sandbox").GetString()!).Order());
            Assert.All(memory, r => Assert.True(Value(r) > 100 << 20, r.ToString()));
            Assert.All(await QueryUntilAsync(http, promPort, "moat_sandbox_vmm_pss_bytes{pod_namespace=\"moat-test\"}", 2), r => Assert.True(Value(r) > 0));
            Assert.True(Value((await QueryUntilAsync(http, promPort, "sum(moat_sandbox_starts_total)", 1))[0]) >= startsBefore + 2);
            Assert.True(Value((await QueryUntilAsync(http, promPort, "sum(moat_sandbox_start_duration_seconds_count)", 1))[0]) >= startsBefore + 2);
            Assert.Equal(1, Value((await QueryUntilAsync(http, promPort, "up{job=\"moat\"}", 1))[0]));

            // moat top shows the same pods.
            var top = await Cmd.RunAsync(Cmd.Moat, ["top", "--once", "--interval", "0.5"]);
            Assert.True(top.ExitCode == 0, top.ToString());
            Assert.Contains("moat-test/watched-a", top.Stdout);
            Assert.Contains("moat-test/watched-b", top.Stdout);
        }
        finally
        {
            prometheus.Kill();
            monitor.Kill();
            await prometheus.WaitForExitAsync();
            await monitor.WaitForExitAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The sum of <c>moat_sandbox_starts_total</c> over its paths, in a scrape's text.</summary>
    private static double StartsIn(string exposition) => exposition.Split('\n')
        .Where(l => l.StartsWith("moat_sandbox_starts_total{", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private static double Value(JsonElement result) =>
        double.Parse(result.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Asks Prometheus' HTTP API until the query has <paramref name="count"/> series (it scrapes every 2 s).</summary>
    private static async Task<List<JsonElement>> QueryUntilAsync(HttpClient http, int port, string query, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString(query)}");
                var results = JsonDocument.Parse(last).RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(e => e.Clone()).ToList();
                if (results.Count == count)
                {
                    return results;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message; // Prometheus still starting
            }
            await Task.Delay(500);
        }
        throw new Xunit.Sdk.XunitException($"{query}: expected {count} series within 60 s; last answer: {last}");
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (HttpRequestException) when (attempt < 100)
            {
                await Task.Delay(200); // the monitor still starting
            }
        }
    }
}
