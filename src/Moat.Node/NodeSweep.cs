using Moat.Runtime;

namespace Moat.Node;

/// <summary>
/// What processes that are gone left on this node (a SIGKILL, a crash, a host reboot that kept
/// a persistent root or data directory): sandbox state and VM socket directories whose owner
/// died, shim state of every containerd namespace, and templates whose maker never finished.
/// Runs and deletes sweep their own root as they go; <c>moat check</c> sweeps the whole node.
/// </summary>
public static class NodeSweep
{
    /// <returns>Every path it removed.</returns>
    public static IReadOnlyList<string> Run(RuntimeOptions options)
    {
        var swept = new List<string>(StateDir.SweepStale(options.StateRoot, options.NodeDir));
        var shims = Path.Combine(options.NodeDir, "containerd");
        if (Directory.Exists(shims))
        {
            foreach (var ns in Directory.EnumerateDirectories(shims))
            {
                swept.AddRange(StateDir.SweepStale(ns, options.NodeDir));
            }
        }
        swept.AddRange(new VmTemplates(options.TemplateDir).SweepUnfinished());
        return swept;
    }
}
