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

    private string Config => Path.Combine(Dir, "config.toml");

    public async Task InitializeAsync()
    {
        var config = Config;
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
        _daemon = await PrivateContainerd.StartAsync(config, Log, args => Ctr(args));
        var archive = Path.Combine(Dir, "busybox.tar");
        var r = await Cmd.RunAsync(Cmd.Moat, ["image", "archive", archive]);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = await Ctr("images", "import", archive);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    /// <summary>Restarts containerd (<see cref="PrivateContainerd.RestartAsync"/>), away for <paramref name="away"/>.</summary>
    public async Task RestartAsync(TimeSpan away) =>
        _daemon = await PrivateContainerd.RestartAsync(_daemon!, away, Config, Log, args => Ctr(args));

    public Task<CmdResult> Ctr(params string[] args) =>
        Cmd.RunAsync("ctr", ["--address", Socket, "--namespace", Namespace, .. args]);

    public Task DisposeAsync() => PrivateContainerd.StopAsync(_daemon, Dir, Log, "containerd");
}
