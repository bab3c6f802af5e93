using Moat.Tests.Shared;
using System.Net;

namespace Moat.Integration.Tests.Containerd;

/// <summary>
/// The node installer image (<c>moat image installer</c>) run by containerd (runc, privileged, as
/// the DaemonSet runs it) against a stand-in node: a temp root with its own
/// etc/containerd/config.toml, the host's /usr, /dev, /proc and /sys bound in read-only (so
/// <c>moat check</c> runs chrooted into it as on a node), a writable /usr/local, /opt and /var,
/// a restart command that only records, and a stand-in Kubernetes API that records label patches.
/// </summary>
[Collection("vm")]
public sealed class DeployTests : IClassFixture<ContainerdFixture>, IAsyncLifetime
{
    private const string Original = """
        version = 2

        # the node's own settings, kept as they are
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "registry.k8s.io/pause:3.6"
        """;

    private readonly ContainerdFixture _containerd;
    private readonly string _host = Directory.CreateTempSubdirectory("moat-node-").FullName;
    private readonly List<string> _mounts = [];
    private readonly List<string> _patches = [];
    private readonly HttpListener _api = new();
    private int _apiPort;

    public DeployTests(ContainerdFixture containerd) => _containerd = containerd;

    public async Task InitializeAsync()
    {
        // Private, so nothing mounted under the stand-in ever reaches the real /usr.
        await Mount("--bind", _host, _host);
        await Mount("--make-private", _host);
        foreach (var d in new[] { "usr", "dev", "proc", "sys" })
        {
            Directory.CreateDirectory(Path.Combine(_host, d));
            await Mount("--rbind", "/" + d, Path.Combine(_host, d));
            await Mount("--make-rprivate", Path.Combine(_host, d));
        }
        await Mount("-o", "remount,bind,ro", Path.Combine(_host, "usr"));
        Directory.CreateDirectory(Path.Combine(_host, "usr/local")); // exists on the host: the tmpfs goes over it
        await Mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", Path.Combine(_host, "usr/local"));
        foreach (var (link, target) in new[] { ("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64") })
        {
            File.CreateSymbolicLink(Path.Combine(_host, link), target);
        }
        foreach (var d in new[] { "etc/containerd", "run", "var/lib", "opt", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(_host, d));
        }
        File.SetUnixFileMode(Path.Combine(_host, "tmp"), (UnixFileMode)0x3ff);
        File.WriteAllText(Config, Original);

        var archive = Path.Combine(_containerd.Dir, "installer.tar");
        var r = await Cmd.RunAsync(Cmd.Moat, ["image", "installer", archive]);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = await _containerd.Ctr("images", "import", archive);
        Assert.True(r.ExitCode == 0, r.ToString());

        _apiPort = TestHost.FreePort();
        _api.Prefixes.Add($"http://127.0.0.1:{_apiPort}/");
        _api.Start();
        _ = ServeApiAsync();
    }

    private string Config => Path.Combine(_host, "etc/containerd/config.toml");

    private int Restarts => File.Exists(Path.Combine(_host, "restarts")) ? File.ReadAllLines(Path.Combine(_host, "restarts")).Length : 0;

    /// <summary>The stand-in API server: records each PATCH of node-1 and answers it as the API server does.</summary>
    private async Task ServeApiAsync()
    {
        while (_api.IsListening)
        {
            HttpListenerContext c;
            try
            {
                c = await _api.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using (var reader = new StreamReader(c.Request.InputStream))
            {
                var body = await reader.ReadToEndAsync();
                lock (_patches)
                {
                    _patches.Add($"{c.Request.HttpMethod} {c.Request.Url!.AbsolutePath} {c.Request.ContentType} {body}");
                }
            }
            c.Response.StatusCode = c.Request.Url!.AbsolutePath == "/api/v1/nodes/node-1" ? 200 : 404;
            c.Response.Close();
        }
    }

    private Task<CmdResult> Installer(string verb, string name) => _containerd.Ctr("run", "--rm", "--privileged", "--net-host",
        "--mount", $"type=bind,src={_host},dst=/host,options=rbind:rw",
        "moat.local/moat-installer:latest", name,
        "/opt/moat-artifacts/bin/moat", "deploy", verb, "--node", "node-1", "--kube-api", $"http://127.0.0.1:{_apiPort}",
        "--restart-command", "echo restarted >> /host/restarts");

    [Fact]
    public async Task TheInstallerInstallsChangingNothingTheSecondTimeAndUninstallsBackToTheOriginalTwiceOver()
    {
        var r = await Installer("install", "installer-1");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var b in new[] { "moat", "moat-agent", "containerd-shim-moat-v2" })
        {
            Assert.True(File.Exists(Path.Combine(_host, "opt/moat/bin", b)), b);
        }
        Assert.Equal("/opt/moat/bin/containerd-shim-moat-v2", new FileInfo(Path.Combine(_host, "usr/local/bin/containerd-shim-moat-v2")).LinkTarget);
        Assert.Equal("/opt/moat/bin/moat", new FileInfo(Path.Combine(_host, "usr/local/bin/moat")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(_host, "var/lib/moat/guest/current/vmlinux")));
        var installed = File.ReadAllText(Config);
        Assert.StartsWith(Original.TrimEnd('\n'), installed);
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.moat]", installed);
        Assert.Contains("runtime_type = \"io.containerd.moat.v2\"", installed);
        Assert.Equal(Original, File.ReadAllText(Config + ".moat-backup"));
        Assert.Equal(1, Restarts);
        Assert.Contains("moat check:", r.Stdout); // the node's own check ran, chrooted into it

        r = await Installer("install", "installer-2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(installed, File.ReadAllText(Config));
        Assert.Equal(1, Restarts); // nothing changed: containerd is left alone
        Assert.Contains("already configured, nothing changed", r.Stdout);

        r = await Installer("uninstall", "installer-3");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Original.TrimEnd('\n') + "\n", File.ReadAllText(Config));
        Assert.False(File.Exists(Config + ".moat-backup"));
        Assert.False(Directory.Exists(Path.Combine(_host, "opt/moat")));
        Assert.False(Directory.Exists(Path.Combine(_host, "var/lib/moat")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_host, "usr/local/bin")));
        Assert.Equal(2, Restarts);

        // And the whole round once more: an uninstalled node takes Moat again and gives it back.
        r = await Installer("install", "installer-4");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(installed, File.ReadAllText(Config));
        r = await Installer("uninstall", "installer-5");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(Original.TrimEnd('\n') + "\n", File.ReadAllText(Config));
        Assert.False(Directory.Exists(Path.Combine(_host, "opt/moat")));
        Assert.Equal(4, Restarts);

        lock (_patches)
        {
            const string patch = "PATCH /api/v1/nodes/node-1 application/merge-patch+json; charset=utf-8 ";
            const string ready = patch + "{\"metadata\":{\"labels\":{\"moat.io/runtime\":\"ready\"}}}";
            const string removed = patch + "{\"metadata\":{\"labels\":{\"moat.io/runtime\":null}}}";
            Assert.Equal([ready, ready, removed, ready, removed], _patches);
        }
    }

    [Fact]
    public async Task ANodeThatCannotRunVmsIsRefusedLabelledAndLeftAsItWas()
    {
        Directory.CreateDirectory(Path.Combine(_host, "etc/moat"));
        File.WriteAllText(Path.Combine(_host, "etc/moat/configuration.toml"), "[hypervisor]\npath = \"/nonexistent/qemu-system-x86_64\"\n");
        var r = await Installer("install", "installer-refused");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("this node cannot run Moat VMs", r.Stdout);
        Assert.Contains("/nonexistent/qemu-system-x86_64", r.Stdout); // the reason, in the pod's log
        Assert.Equal(Original, File.ReadAllText(Config));
        Assert.False(Directory.Exists(Path.Combine(_host, "opt/moat")));
        Assert.False(Directory.Exists(Path.Combine(_host, "var/lib/moat")));
        Assert.Equal(0, Restarts);
        lock (_patches)
        {
            Assert.Equal(["PATCH /api/v1/nodes/node-1 application/merge-patch+json; charset=utf-8 {\"metadata\":{\"labels\":{\"moat.io/runtime\":\"unavailable\"}}}"], _patches);
        }
    }

    private async Task Mount(params string[] args)
    {
        var r = await Cmd.RunAsync("mount", args);
        Assert.True(r.ExitCode == 0, r.ToString());
        if (args[0] is "--bind" or "--rbind" or "-t")
        {
            _mounts.Add(args[^1]);
        }
    }

    public async Task DisposeAsync()
    {
        _api.Close();
        if (_mounts.Count > 0)
        {
            await Cmd.RunAsync("umount", ["-R", _host]);
        }
        // Never delete through a bind that is still there: it would reach the real /dev, /proc, /sys.
        var left = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(_host, StringComparison.Ordinal)).ToList();
        Assert.True(left.Count == 0, "still mounted, so not removed: " + string.Join(", ", left));
        Directory.Delete(_host, recursive: true);
    }
}
