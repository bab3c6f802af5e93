namespace Moat.Runtime.Tests;

public sealed class StateDirSweepTests : IDisposable
{
    private readonly string _node = Directory.CreateTempSubdirectory("node-").FullName;

    public void Dispose() => Directory.Delete(_node, recursive: true);

    private string SocketDir(string name, string? owner)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_node, "vm", name)).FullName;
        File.WriteAllText(Path.Combine(dir, "qmp.sock"), "");
        if (owner is not null)
        {
            File.WriteAllText(Path.Combine(dir, "owner"), owner);
        }
        return dir;
    }

    [Fact]
    public void SocketDirsOfDeadOwnersGoOthersStay()
    {
        var dead = SocketDir("dead", "999999999 1");
        var reused = SocketDir("reused-pid", $"{Environment.ProcessId} 1"); // our pid, another start time: not us
        var alive = SocketDir("alive", ProcessIdentity.Self);
        var unknown = SocketDir("unknown", null);
        StateDir.SweepOrphanSocketDirs(_node);
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(reused));
        Assert.True(Directory.Exists(alive));
        Assert.True(Directory.Exists(unknown), "a directory without an owner is not known to be Moat's leftover");
    }

    [Fact]
    public void ANewSandboxsSocketDirNamesItsOwner()
    {
        var root = Path.Combine(_node, "root");
        var state = new StateDir(root, "c1", _node);
        state.Create();
        Assert.Equal(ProcessIdentity.Self, File.ReadAllText(Path.Combine(state.SocketDir, "owner")));
        StateDir.SweepOrphanSocketDirs(_node);
        Assert.True(Directory.Exists(state.SocketDir));
        state.Remove();
        Assert.False(Directory.Exists(state.SocketDir));
    }
}
