using Moat.Protocols.Monitor;
using Moat.Runtime;
using Moat.Runtime.Metrics;

namespace Moat.Cli.Monitor;

/// <summary>One sandbox as a scrape found it: what its shim said, and what the host's /proc says of its processes.</summary>
internal sealed record SandboxView(SandboxMetrics Metrics, string Namespace, int ShimPid, long ShimRssBytes, long VmmRssBytes, long VmmPssBytes);

/// <summary>What one scrape of the node found (<see cref="NodeScraper"/>).</summary>
/// <param name="Unreachable">Shims that did not answer within the deadline (dead, wedged): their sandboxes are missing.</param>
/// <param name="Starts">The node's sandbox starts by path (<see cref="NodeStarts"/>).</param>
/// <param name="Canaries">The canary verdicts for the installed guest image, by accelerator (missing when never checked).</param>
/// <param name="TakenAt">When the scrape ended (<see cref="System.Diagnostics.Stopwatch"/> timestamp): rates are over the time between two.</param>
internal sealed record NodeSnapshot(
    IReadOnlyList<SandboxView> Sandboxes,
    int Unreachable,
    IReadOnlyDictionary<string, HistogramSnapshot> Starts,
    int Templates,
    IReadOnlyList<AcceleratorVerdict> Canaries,
    TimeSpan Took,
    long TakenAt);
