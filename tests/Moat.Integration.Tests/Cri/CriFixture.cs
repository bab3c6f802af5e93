using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Net.Client;

namespace Moat.Integration.Tests.Cri;

/// <summary>
/// A private containerd with its CRI plugin (Debian's package): runtimes <c>runc</c> (default),
/// <c>moat</c>, the untrusted-workload runtime and <c>moat-runc</c> (the runc shim running moat), a bridge CNI network of its own, the local
/// busybox and pause images imported into <c>k8s.io</c>. Tests talk CRI gRPC to its socket,
/// as kubelet does.
/// </summary>
public sealed class CriFixture : IAsyncLifetime
{
    public const string Busybox = "docker.io/library/busybox:latest";
    public const string Pause = "moat.local/pause:3.6";
    public const string Bridge = "moattest0";
    public const string Subnet = "10.88.77.0/24";

    /// <summary>containerd's runc shim with moat as its binary (Kata 1.x's katacli set-up).</summary>
    public const string RuncShimHandler = "moat-runc";

    private Process? _daemon;
    private GrpcChannel? _channel;

    public string Dir { get; } = Directory.CreateTempSubdirectory("moat-cri-").FullName;
    public string Socket => Path.Combine(Dir, "containerd.sock");
    public string Log => Path.Combine(Dir, "containerd.log");

    public RuntimeService.RuntimeServiceClient Runtime { get; private set; } = null!;

    /// <summary>config.toml as `moat install containerd` left it.</summary>
    public string InstalledConfig { get; private set; } = "";

    public string ConfigPath => Path.Combine(Dir, "config.toml");

    /// <summary>The --root the runc shim gives moat for <see cref="RuncShimHandler"/>'s containers.</summary>
    public string RuncShimRoot => Path.Combine(Dir, "moat-runc");

    public async Task InitializeAsync()
    {
        var cniDir = Path.Combine(Dir, "cni");
        Directory.CreateDirectory(cniDir);
        File.WriteAllText(Path.Combine(cniDir, "10-moat-test.conflist"), $$"""
            {
              "cniVersion": "0.4.0",
              "name": "moat-test",
              "plugins": [
                {
                  "type": "bridge", "bridge": "{{Bridge}}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
                  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "{{Subnet}}" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "{{Dir}}/ipam" }
                }
              ]
            }
            """);
        var config = Path.Combine(Dir, "config.toml");
        File.WriteAllText(config, $"""
            version = 2
            root = "{Dir}/root"
            state = "{Dir}/state"

            [grpc]
              address = "{Socket}"

            [ttrpc]
              address = "{Socket}.ttrpc"

            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{Pause}"
              restrict_oom_score_adj = true
              disable_apparmor = true
              [plugins."io.containerd.grpc.v1.cri".containerd]
                default_runtime_name = "runc"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{RuncShimHandler}]
                  runtime_type = "io.containerd.runc.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{RuncShimHandler}.options]
                    BinaryName = "{Cmd.Moat}"
                    Root = "{RuncShimRoot}"
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "/usr/lib/cni"
                conf_dir = "{cniDir}"
            """);
        // The moat handler and the untrusted-workload runtime come from `moat install containerd`,
        // so the tests also prove that what it writes is what containerd needs.
        var moatConfig = Path.Combine(Dir, "moat.toml");
        File.WriteAllText(moatConfig, "[hypervisor]\nmemory_mib = 512\n");
        var install = await Cmd.RunAsync(Cmd.Moat, ["--config", moatConfig, "install", "containerd", "--config-file", config, "--untrusted-workload"]);
        Assert.True(install.ExitCode == 0, install.ToString());
        InstalledConfig = File.ReadAllText(config);
        _daemon = await PrivateContainerd.StartAsync(config, Log, args => Ctr(args));
        foreach (var (name, cmd) in new[] { (Busybox, new[] { "sh" }), (Pause, new[] { "sleep", "infinity" }) })
        {
            var archive = Path.Combine(Dir, name.Replace('/', '_').Replace(':', '_') + ".tar");
            var r = await Cmd.RunAsync(Cmd.Moat, ["image", "archive", archive, "--name", name, "--cmd", .. cmd]);
            Assert.True(r.ExitCode == 0, r.ToString());
            r = await Ctr("images", "import", archive);
            Assert.True(r.ExitCode == 0, r.ToString());
        }

        var socket = Socket;
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            },
        });
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);

        // The CRI plugin reports ready once it has loaded the CNI configuration.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = await Runtime.StatusAsync(new StatusRequest());
            if (status.Status.Conditions.All(c => c.Status))
            {
                break;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the CRI plugin is not ready: {status.Status}; see {Log}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>Restarts containerd as an operator does (SIGTERM, then the same config): pods and their shims go on.</summary>
    public async Task RestartAsync()
    {
        _daemon = await PrivateContainerd.RestartAsync(_daemon!, TimeSpan.Zero, ConfigPath, Log, args => Ctr(args));
        // containerd answers ctr before its CRI plugin has loaded its pods ("server is not initialized yet").
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await Runtime.StatusAsync(new StatusRequest());
                return;
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    public Task<CmdResult> Ctr(params string[] args) =>
        Cmd.RunAsync("ctr", ["--address", Socket, "--namespace", "k8s.io", .. args]);

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await PrivateContainerd.StopAsync(_daemon, Dir, Log, "containerd-cri");
        await Cmd.RunAsync("ip", ["link", "del", Bridge]);
    }
}
