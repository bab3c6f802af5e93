using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Net.Client;
using Moat.Integration.Tests.Cri;

namespace Moat.Bench;

/// <summary>A CRI client over containerd's Unix socket, making the calls kubelet makes for a pod.</summary>
internal sealed class Cri : IDisposable
{
    public const string Image = "docker.io/library/busybox:latest";

    private readonly GrpcChannel _channel;

    public Cri(string socket)
    {
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            },
        });
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
    }

    public RuntimeService.RuntimeServiceClient Runtime { get; }

    /// <summary>A deadline for each call, so that a runtime that hangs fails the benchmark instead of stalling it.</summary>
    private static DateTime Deadline => DateTime.UtcNow.AddMinutes(3);

    /// <summary>The three calls of a pod start, in order.</summary>
    public static readonly string[] StartCalls = ["RunPodSandbox", "CreateContainer", "StartContainer"];

    /// <summary>
    /// RunPodSandbox, CreateContainer, StartContainer: the pod start, timed until the container runs.
    /// </summary>
    public Task<(string Pod, TimeSpan Elapsed)> StartPodAsync(string handler, string name, params string[] command) =>
        StartPodAsync(handler, name, null, command);

    /// <param name="calls">Given: each call's own time is added to it, in the order of <see cref="StartCalls"/>.</param>
    public async Task<(string Pod, TimeSpan Elapsed)> StartPodAsync(string handler, string name, List<TimeSpan>? calls, params string[] command)
    {
        // kubelet's defaults: the pod shares network and IPC, each container has its own PID namespace.
        var namespaces = new NamespaceOption { Network = NamespaceMode.Pod, Ipc = NamespaceMode.Pod, Pid = NamespaceMode.Container };
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "bench", Uid = Guid.NewGuid().ToString("N") },
            Hostname = name,
            LogDirectory = Path.Combine(Path.GetTempPath(), "moat-bench-pods", name),
            Linux = new LinuxPodSandboxConfig { SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = namespaces } },
        };
        Directory.CreateDirectory(config.LogDirectory);
        var sw = Stopwatch.StartNew();
        var lap = TimeSpan.Zero;
        void Lap()
        {
            calls?.Add(sw.Elapsed - lap);
            lap = sw.Elapsed;
        }

        var pod = (await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler }, deadline: Deadline)).PodSandboxId;
        Lap();
        try
        {
            var c = await Runtime.CreateContainerAsync(new CreateContainerRequest
            {
                PodSandboxId = pod,
                SandboxConfig = config,
                Config = new ContainerConfig
                {
                    Metadata = new ContainerMetadata { Name = "main" },
                    Image = new ImageSpec { Image = Image },
                    Command = { command },
                    LogPath = "main.log",
                    Linux = new LinuxContainerConfig { SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = namespaces.Clone() } },
                },
            }, deadline: Deadline);
            Lap();
            await Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = c.ContainerId }, deadline: Deadline);
            Lap();
            return (pod, sw.Elapsed);
        }
        catch
        {
            await RemovePodAsync(pod);
            throw;
        }
    }

    public async Task<string> PodIpAsync(string pod) =>
        (await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod }, deadline: Deadline)).Status.Network.Ip;

    /// <summary>Runs <paramref name="cmd"/> in the pod's first container (CRI ExecSync); its stdout, or an error naming its exit status.</summary>
    public async Task<string> ExecAsync(string pod, params string[] cmd)
    {
        var containers = await Runtime.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = pod } }, deadline: Deadline);
        var r = await Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = containers.Containers[0].Id, Cmd = { cmd }, Timeout = 170 }, deadline: Deadline);
        return r.ExitCode == 0
            ? r.Stdout.ToStringUtf8()
            : throw new BenchException($"exec {string.Join(' ', cmd)} in pod {pod}: exit {r.ExitCode}: {r.Stderr.ToStringUtf8().Trim()}");
    }

    public async Task RemovePodAsync(string pod)
    {
        await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod }, deadline: Deadline);
        await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod }, deadline: Deadline);
    }

    public void Dispose() => _channel.Dispose();
}
