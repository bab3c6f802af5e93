using Moat.Node.Deploy;
using Moat.Runtime;

namespace Moat.Node.Tests;

/// <summary>The installer's steps on a temp root standing for a node, its effects recorded (no containerd, no chroot, no API).</summary>
public sealed class DeployTests : IDisposable
{
    private const string ConfigPath = "/etc/containerd/config.toml";
    private const string Original = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.6\"\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("moat-deploy-").FullName;
    private string Node => Path.Combine(_dir, "node");
    private string Artifacts => Path.Combine(_dir, "artifacts");

    private sealed class RecordingHost(bool canRunVms) : INodeHost
    {
        public List<string> Calls { get; } = [];

        public Task<NodeCheck> CheckAsync(string moatHostPath, CancellationToken ct)
        {
            Calls.Add($"check {moatHostPath}");
            return Task.FromResult(canRunVms ? new NodeCheck(true, "fine", []) : new NodeCheck(false, "QEMU is missing", ["error: QEMU: missing"]));
        }

        public Task RestartContainerdAsync(CancellationToken ct)
        {
            Calls.Add("restart containerd");
            return Task.CompletedTask;
        }

        public Task LabelAsync(string? value, CancellationToken ct)
        {
            Calls.Add($"label {value ?? "(removed)"}");
            return Task.CompletedTask;
        }
    }

    public DeployTests()
    {
        foreach (var b in DeployLayout.Binaries)
        {
            Directory.CreateDirectory(Path.Combine(Artifacts, "bin"));
            File.WriteAllText(Path.Combine(Artifacts, "bin", b), "binary " + b);
        }
        var image = Path.Combine(Artifacts, "guest", "0123456789abcdef");
        Directory.CreateDirectory(image);
        File.WriteAllText(Path.Combine(image, "vmlinux"), "kernel");
        File.WriteAllText(Path.Combine(image, "initrd.img"), "initrd");
        File.WriteAllText(Path.Combine(image, "manifest.json"),
            """{"key": "0123456789abcdef", "kernelVersion": "6.1.0-test", "kernelPackage": "linux-image.deb", "agentSha256": "00", "modules": [], "createdUtc": "2026-12-05T00:00:00Z", "vmlinux": "vmlinux", "initrd": "initrd.img"}""");
        Moat.ImageBuilder.GuestImage.MakeCurrent(Path.Combine(Artifacts, "guest"), "0123456789abcdef");
        Directory.CreateDirectory(Path.Combine(Node, "etc/containerd"));
        File.WriteAllText(Path.Combine(Node, "etc/containerd/config.toml"), Original);
        // The node's /usr/local/bin is a link elsewhere on the node: followed inside the node, never out of it.
        Directory.CreateDirectory(Path.Combine(Node, "usr/local"));
        Directory.CreateDirectory(Path.Combine(Node, "opt/links"));
        File.CreateSymbolicLink(Path.Combine(Node, "usr/local/bin"), "/opt/links");
    }

    private async Task<(DeployOutcome, RecordingHost)> InstallAsync(bool canRunVms = true)
    {
        var host = new RecordingHost(canRunVms);
        using var root = new HostRoot(Node);
        return (await new NodeDeployer(root, new DeployLayout(Artifacts), host, _ => { }).InstallAsync(CancellationToken.None), host);
    }

    [Fact]
    public async Task InstallPutsEverythingInPlaceOnceAndUninstallTakesItAllBack()
    {
        var (outcome, host) = await InstallAsync();
        Assert.Equal(DeployOutcome.Installed, outcome);
        Assert.Equal(["check /opt/moat/bin/moat", "restart containerd", "label ready"], host.Calls);
        Assert.Equal("binary containerd-shim-moat-v2", File.ReadAllText(Path.Combine(Node, "opt/moat/bin/containerd-shim-moat-v2")));
        Assert.True(File.GetUnixFileMode(Path.Combine(Node, "opt/moat/bin/moat")).HasFlag(UnixFileMode.OtherExecute));
        Assert.Equal("/opt/moat/bin/moat", new FileInfo(Path.Combine(Node, "opt/links/moat")).LinkTarget); // through the node's own link
        Assert.Equal("kernel", File.ReadAllText(Path.Combine(Node, "var/lib/moat/guest/current/vmlinux")));
        Assert.Contains("runtime_type = \"io.containerd.moat.v2\"", File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml")));

        var before = File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml"));
        (outcome, host) = await InstallAsync();
        Assert.Equal(DeployOutcome.Installed, outcome);
        Assert.Equal(["check /opt/moat/bin/moat", "label ready"], host.Calls); // no change, no restart
        Assert.Equal(before, File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml")));

        var uninstalling = new RecordingHost(true);
        using (var root = new HostRoot(Node))
        {
            await new NodeDeployer(root, new DeployLayout(Artifacts), uninstalling, _ => { }).UninstallAsync(CancellationToken.None);
        }
        Assert.Equal(["restart containerd", "label (removed)"], uninstalling.Calls);
        Assert.Equal(Original, File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml")));
        Assert.False(File.Exists(Path.Combine(Node, "etc/containerd/config.toml.moat-backup")));
        Assert.False(Directory.Exists(Path.Combine(Node, "opt/moat")));
        Assert.False(Directory.Exists(Path.Combine(Node, "var/lib/moat")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Node, "opt/links")));
    }

    [Fact]
    public async Task ANodeThatCannotRunVmsKeepsItsConfigAndGetsNothingButTheLabel()
    {
        var (outcome, host) = await InstallAsync(canRunVms: false);
        Assert.Equal(DeployOutcome.Refused, outcome);
        Assert.Equal(["check /opt/moat/bin/moat", "label unavailable"], host.Calls);
        Assert.Equal(Original, File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml")));
        Assert.False(Directory.Exists(Path.Combine(Node, "opt/moat")));
        Assert.False(Directory.Exists(Path.Combine(Node, "var/lib/moat")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Node, "opt/links")));
    }

    [Fact]
    public async Task ANodeRefusedAfterAnEarlierInstallLosesTheHandlerToo()
    {
        await InstallAsync();
        var (outcome, host) = await InstallAsync(canRunVms: false); // say its QEMU was removed since
        Assert.Equal(DeployOutcome.Refused, outcome);
        Assert.Equal(["check /opt/moat/bin/moat", "restart containerd", "label unavailable"], host.Calls);
        Assert.Equal(Original, File.ReadAllText(Path.Combine(Node, "etc/containerd/config.toml")));
        Assert.False(Directory.Exists(Path.Combine(Node, "opt/moat")));
    }

    [Fact]
    public async Task ASymlinkedConfigOrAFileWhereTheLinkGoesIsRefusedNotFollowedOrReplaced()
    {
        File.Move(Path.Combine(Node, "etc/containerd/config.toml"), Path.Combine(Node, "etc/containerd/real.toml"));
        File.CreateSymbolicLink(Path.Combine(Node, "etc/containerd/config.toml"), "/etc/containerd/real.toml");
        var e = await Assert.ThrowsAsync<RuntimeException>(() => InstallAsync());
        Assert.Contains("/etc/containerd/config.toml on the node is a symlink", e.Message);
        Assert.Equal(Original, File.ReadAllText(Path.Combine(Node, "etc/containerd/real.toml")));
        Assert.False(Directory.Exists(Path.Combine(Node, "opt/moat"))); // refused before anything was copied

        File.Delete(Path.Combine(Node, "etc/containerd/config.toml"));
        File.Move(Path.Combine(Node, "etc/containerd/real.toml"), Path.Combine(Node, "etc/containerd/config.toml"));
        File.WriteAllText(Path.Combine(Node, "opt/links/moat"), "someone else's moat");
        e = await Assert.ThrowsAsync<RuntimeException>(() => InstallAsync());
        Assert.Contains("/usr/local/bin/moat on the node is a file", e.Message);
        Assert.Equal("someone else's moat", File.ReadAllText(Path.Combine(Node, "opt/links/moat")));
        Assert.False(Directory.Exists(Path.Combine(Node, "opt/moat")));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("opt/moat")]
    public async Task APrefixThatIsNotADedicatedAbsoluteDirectoryIsRefused(string prefix)
    {
        using var root = new HostRoot(Node);
        var e = await Assert.ThrowsAsync<RuntimeException>(() =>
            new NodeDeployer(root, new DeployLayout(Artifacts, prefix), new RecordingHost(true), _ => { }).UninstallAsync(CancellationToken.None));
        Assert.StartsWith($"--prefix {prefix}:", e.Message);
    }

    [Fact]
    public async Task ALinkOutOfTheNodeStaysInsideIt()
    {
        // An absolute link on the node names a node path: resolved under the node root, not the installer's /.
        File.Delete(Path.Combine(Node, "usr/local/bin"));
        File.CreateSymbolicLink(Path.Combine(Node, "usr/local/bin"), _dir + "/outside");
        await InstallAsync();
        Assert.False(Directory.Exists(Path.Combine(_dir, "outside")));
        Assert.Equal("/opt/moat/bin/moat", new FileInfo(Path.Combine(Node, _dir.TrimStart('/'), "outside", "moat")).LinkTarget);
    }

    [Fact]
    public void RemovingTheHandlersGivesBackTheFileAsItWas()
    {
        var (added, _) = Installer.EditContainerdConfig(Original, ConfigPath, ["moat"], untrustedWorkload: false, "/etc/moat/configuration.toml");
        var (removed, changes) = Installer.RemoveContainerdHandlers(added, ConfigPath, ["moat"]);
        Assert.Equal(Original, removed);
        Assert.Equal(["removed CRI runtime handler 'moat' (io.containerd.moat.v2)"], changes);
        Assert.Empty(Installer.RemoveContainerdHandlers(removed, ConfigPath, ["moat"]).Changes);
    }

    [Fact]
    public void AHandlerOfAnotherRuntimeIsLeftAlone()
    {
        const string other = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.moat]\n  runtime_type = \"io.containerd.runc.v2\"\n";
        Assert.Equal((other, 0), Installer.RemoveContainerdHandlers(other, ConfigPath, ["moat"]) is var (t, c) ? (t, c.Count) : default);
    }

    [Fact]
    public void AHandlerWrittenAnotherWayIsReportedRatherThanHalfRemoved()
    {
        const string inline = "version = 2\n[plugins]\n  \"io.containerd.grpc.v1.cri\" = { containerd = { runtimes = { moat = { runtime_type = \"io.containerd.moat.v2\" } } } }\n";
        var e = Assert.Throws<RuntimeException>(() => Installer.RemoveContainerdHandlers(inline, ConfigPath, ["moat"]));
        Assert.Contains("remove its table by hand", e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
