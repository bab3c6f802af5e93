namespace Moat.Bench;

/// <summary>Host memory of the pods started since a baseline, one shim process tree per pod.</summary>
internal sealed class PodMemory
{
    private readonly HashSet<int> _baseline = Procs.All();

    /// <summary>PSS (MiB) of each pod's process tree and RSS (MiB) of each pod's shim.</summary>
    public (List<double> PssMiB, List<double> ShimRssMiB, List<int> Added) Measure()
    {
        var added = Procs.All().Except(_baseline).ToList();
        var trees = Procs.ShimTrees(added);
        return (trees.Values.Select(t => t.Sum(Procs.PssKiB) / 1024.0).ToList(),
                trees.Keys.Where(p => Procs.CommandLine(p).FirstOrDefault()?.Contains("moat", StringComparison.Ordinal) == true).Select(p => Procs.RssKiB(p) / 1024.0).ToList(),
                added);
    }
}
