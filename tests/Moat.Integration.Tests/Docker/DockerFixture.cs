namespace Moat.Integration.Tests.Docker;

/// <summary>
/// A private dockerd (Debian's docker.io, 20.10) with its own data root, exec root, socket and
/// containerd, no iptables and no bridge, its daemon.json given the moat runtime by
/// <c>moat install docker</c>, and the local busybox image loaded.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    /// <summary>Debian's client: /usr/local/bin may hold another one.</summary>
    public const string DockerCli = "/usr/bin/docker";

    private System.Diagnostics.Process? _daemon;

    public string Dir { get; } = Directory.CreateTempSubdirectory("moat-docker-").FullName;
    public string Socket => Path.Combine(Dir, "docker.sock");
    public string Log => Path.Combine(Dir, "dockerd.log");

    public async Task InitializeAsync()
    {
        var config = Path.Combine(Dir, "daemon.json");
        File.WriteAllText(config, "{}\n");
        var r = await Cmd.RunAsync(Cmd.Moat, ["install", "docker", "--config-file", config]);
        Assert.True(r.ExitCode == 0, r.ToString());
        _daemon = PrivateContainerd.StartLogged("/usr/sbin/dockerd",
        [
            "--data-root", Path.Combine(Dir, "data"), "--exec-root", Path.Combine(Dir, "exec"), "--pidfile", Path.Combine(Dir, "dockerd.pid"),
            "--host", "unix://" + Socket, "--config-file", config, "--iptables=false", "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
        ], Log);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await Docker("version")).ExitCode != 0)
        {
            if (_daemon.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"dockerd did not start; see {Log}");
            }
            await Task.Delay(200);
        }
        var archive = Path.Combine(Dir, "busybox.tar");
        r = await Cmd.RunAsync(Cmd.Moat, ["image", "archive", archive]);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = await Docker("load", "-i", archive);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    public Task<CmdResult> Docker(params string[] args) => DockerWithInput(null, args);

    public Task<CmdResult> DockerWithInput(string? stdin, params string[] args) =>
        Cmd.RunAsync(DockerCli, ["--host", "unix://" + Socket, .. args], stdin, timeout: TimeSpan.FromMinutes(3));

    public async Task DisposeAsync()
    {
        if (_daemon is { HasExited: false })
        {
            Moat.Linux.Interop.Libc.kill(_daemon.Id, 15); // dockerd stops its containerd and unmounts on SIGTERM
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _daemon.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _daemon.Kill(entireProcessTree: true);
            }
        }
        await PrivateContainerd.StopAsync(null, Dir, Log, "dockerd");
    }
}
