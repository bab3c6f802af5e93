using System.Diagnostics;

namespace Moat.Integration.Tests.Containerd;

/// <summary>
/// A private containerd (Debian's package): its own root, state, socket and config under a temp
/// directory, the local busybox image imported, stopped and cleaned up afterwards.
/// </summary>
public sealed class ContainerdFixture : IAsyncLifetime
{
    public const string Namespace = "moat-test";
    public const string Image = "docker.io/library/busybox:latest";

    private Process? _daemon;

    public string Dir { get; } = Directory.CreateTempSubdirectory("moat-containerd-").FullName;
    public string Socket => Path.Combine(Dir, "containerd.sock");
    public string Log => Path.Combine(Dir, "containerd.log");

    public async Task InitializeAsync()
    {
        var config = Path.Combine(Dir, "config.toml");
        File.WriteAllText(config, $"""
            version = 2
            root = "{Dir}/root"
            state = "{Dir}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]

            [grpc]
              address = "{Socket}"

            [ttrpc]
              address = "{Socket}.ttrpc"
            """);
        var psi = new ProcessStartInfo("containerd", ["--config", config, "--log-level", "debug"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _daemon = Process.Start(psi)!;
        var log = File.CreateText(Log);
        log.AutoFlush = true;
        _daemon.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        _daemon.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        _daemon.BeginErrorReadLine();
        _daemon.BeginOutputReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await Ctr("version")).Stdout.Contains("Server:", StringComparison.Ordinal))
        {
            if (_daemon.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"containerd did not start; see {Log}");
            }
            await Task.Delay(100);
        }
        var archive = Path.Combine(Dir, "busybox.tar");
        var r = await Cmd.RunAsync(Cmd.Moat, ["image", "archive", archive]);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = await Ctr("images", "import", archive);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    public Task<CmdResult> Ctr(params string[] args) =>
        Cmd.RunAsync("ctr", ["--address", Socket, "--namespace", Namespace, .. args]);

    public async Task DisposeAsync()
    {
        if (_daemon is { HasExited: false })
        {
            _daemon.Kill();
            await _daemon.WaitForExitAsync();
        }
        if (Environment.GetEnvironmentVariable("MOAT_TEST_KEEP_LOGS") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(keep);
            File.Copy(Log, Path.Combine(keep, $"containerd-{DateTime.UtcNow:HHmmss}.log"), overwrite: true);
        }
        // Snapshots and task rootfs mounts live under the private root.
        var mounts = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(m => m.StartsWith(Dir, StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList();
        foreach (var m in mounts)
        {
            await Cmd.RunAsync("umount", ["-l", m]);
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
