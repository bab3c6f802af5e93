namespace Moat.Integration.Tests;

/// <summary>
/// The short version of bench/soak.sh (issue 18): tens of create/start/exec/kill/delete cycles
/// through the CLI, containerd and its CRI, with concurrent workers and reused ids; after every
/// round nothing may be left but the one resident container, whose shim must not grow.
/// </summary>
[Collection("vm")]
public sealed class SoakTests
{
    [Fact]
    public async Task ShortSoakThroughTheCliContainerdAndCriFailsNothingAndLeavesNothing()
    {
        var repo = Moat.Tests.Shared.TestHost.RepoRoot;
        var outDir = Directory.CreateTempSubdirectory("moat-soak-out-").FullName;
        try
        {
            var r = await Cmd.RunAsync("bash", [Path.Combine(repo, "bench", "soak.sh"), "12", "3", "6"],
                env: new Dictionary<string, string> { ["SOAK_OUT"] = outDir }, timeout: TimeSpan.FromMinutes(15));
            Assert.True(r.ExitCode == 0, r.ToString());
            var rows = File.ReadAllLines(Path.Combine(outDir, "soak.csv")).Skip(1).Select(l => l.Split(',')).ToList();
            Assert.Equal(6, rows.Count); // two rounds per path: the CLI, ctr and CRI
            Assert.All(rows, row => Assert.Equal("0", row[2]));
            // The resident container's shim: fds flat, RSS within a few MiB of where it started.
            var rss = rows.Select(row => long.Parse(row[12], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(rss.Max() - rss.Min() < 8 * 1024, $"resident shim RSS moved from {rss.Min()} to {rss.Max()} KiB");
            var fds = rows.Select(row => int.Parse(row[11], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(fds.Max() - fds.Min() <= 2, $"resident shim fds moved from {fds.Min()} to {fds.Max()}");
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}
