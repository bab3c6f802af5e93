using Moat.Hypervisor;
using Moat.Linux;
using Moat.Protocols.Containerd;
using Moat.Runtime;
using Moat.Runtime.Metrics;
using Moat.Ttrpc;

namespace Moat.Cli.Monitor;

/// <summary>
/// Finds every Moat sandbox on the node from its shim's socket (no configuration) and asks each
/// shim, all at once, for its figures. A shim that does not answer within <paramref name="deadline"/>
/// (dead, wedged, its guest stuck) is counted as unreachable and left out: one slow sandbox never
/// holds up a scrape.
/// </summary>
internal sealed class NodeScraper(RuntimeOptions options, TimeSpan deadline)
{
    /// <summary>How long a shim may wait for its guest's figures: well inside the shim's own deadline.</summary>
    private TimeSpan GuestDeadline => deadline / 2;

    public async Task<NodeSnapshot> ScrapeAsync(CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sockets = Directory.Exists(options.ShimSocketDir)
            ? Directory.EnumerateFiles(options.ShimSocketDir, "*.sock").Order(StringComparer.Ordinal).ToList()
            : [];
        var answers = await Task.WhenAll(sockets.Select(s => AskAsync(s, ct))).ConfigureAwait(false);
        var views = answers.Where(a => a is not null).SelectMany(a => a!).OrderBy(v => v.Metrics.Id, StringComparer.Ordinal).ToList();
        return new NodeSnapshot(views, answers.Count(a => a is null), new NodeStarts(options.NodeDir).Snapshot(),
            new VmTemplates(options.TemplateDir).Saved().Count(), Canaries(), clock.Elapsed, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    /// <summary>One shim's sandboxes, or null when it did not answer in time.</summary>
    private async Task<IReadOnlyList<SandboxView>?> AskAsync(string socket, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        try
        {
            await using var client = await TtrpcClient.ConnectUnixAsync(socket, timeout.Token).ConfigureAwait(false);
            var r = await MonitorServiceBinder.SandboxesAsync(client, GuestDeadline, deadline, timeout.Token).ConfigureAwait(false);
            var shimRss = ProcMemory.RssBytes(r.ShimPid);
            return r.Sandboxes.Select(m => new SandboxView(m, r.Namespace, r.ShimPid, shimRss,
                ProcMemory.RssBytes(m.VmmPid), ProcMemory.PssBytes(m.VmmPid))).ToList();
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return null; // whatever this one shim did (no answer, a bad one, gone), the others are still scraped
        }
    }

    /// <summary>The canary verdicts for the installed guest image (none when there is no image yet).</summary>
    private List<AcceleratorVerdict> Canaries()
    {
        try
        {
            var (kernel, initrd, _) = GuestImagePaths.Resolve(options);
            var key = AcceleratorVerdicts.Key(options, kernel, initrd);
            var verdicts = new AcceleratorVerdicts(options.AcceleratorDir);
            return new[] { Accel.Kvm, Accel.Tcg }.Select(a => verdicts.Read(a, key)).OfType<AcceleratorVerdict>().ToList();
        }
        catch (RuntimeException)
        {
            return [];
        }
    }
}
