using Moat.Node;
using Moat.Runtime;

namespace Moat.Node.Tests;

/// <summary>What a reboot or a SIGKILL leaves on a node, swept by <c>moat check</c>; what a live process holds, kept.</summary>
public sealed class NodeSweepTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-sweep-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>"pid starttime" of no process: a pid beyond pid_max.</summary>
    private const string Gone = "4194305 12345";

    private string Owned(string dir, string owner)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "owner"), owner);
        return dir;
    }

    [Fact]
    public void SandboxesSocketsAndUnfinishedTemplatesOfGoneProcessesAreSweptAndLiveOnesKept()
    {
        var options = new RuntimeOptions { StateRoot = Path.Combine(_dir, "state"), NodeDir = Path.Combine(_dir, "node"), DataDir = Path.Combine(_dir, "data") };
        var deadCli = Owned(Path.Combine(options.StateRoot, "c1"), Gone);
        var liveCli = Owned(Path.Combine(options.StateRoot, "c2"), ProcessIdentity.Self);
        var deadShim = Owned(Path.Combine(options.NodeDir, "containerd", "k8s.io", "pod1"), Gone);
        var liveShim = Owned(Path.Combine(options.NodeDir, "containerd", "k8s.io", "pod2"), ProcessIdentity.Self);
        var deadSockets = Owned(Path.Combine(options.NodeDir, "vm", "abc"), Gone);
        var unfinished = Directory.CreateDirectory(Path.Combine(options.TemplateDir, "0123456789abcdef01234567.new")).FullName;
        var saved = Directory.CreateDirectory(Path.Combine(options.TemplateDir, "89abcdef0123456789abcdef")).FullName;
        var busy = Directory.CreateDirectory(Path.Combine(options.TemplateDir, "fedcba9876543210fedcba98.new")).FullName;
        using var maker = new FileStream(Path.Combine(options.TemplateDir, "fedcba9876543210fedcba98.lock"), FileMode.Create, FileAccess.ReadWrite, FileShare.None);

        var swept = NodeSweep.Run(options);

        Assert.Equal(new[] { deadSockets, deadCli, deadShim, unfinished }.Order(), swept.Order());
        Assert.All(swept, p => Assert.False(Directory.Exists(p)));
        Assert.All(new[] { liveCli, liveShim, saved, busy }, p => Assert.True(Directory.Exists(p), p));
        Assert.Empty(NodeSweep.Run(options)); // nothing twice
    }
}
