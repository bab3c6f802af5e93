using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Grpc.Net.Client;
using Moat.Integration.Tests.Cri;

// CRI pod start and idle pod memory, runc and Moat side by side on one containerd:
//   CriBench SOCKET RUNS OUT.json
// Pod start = RunPodSandbox + CreateContainer + StartContainer (the container is running when
// StartContainer returns). Idle memory = PSS of every process the pod added on the host (shim,
// QEMU or the runc container processes), measured 3 s after start.
var socket = args[0];
var runs = int.Parse(args[1], CultureInfo.InvariantCulture);
var output = args[2];
using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
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
var cri = new RuntimeService.RuntimeServiceClient(channel);
var results = new Dictionary<string, (List<double> StartMs, List<double> PssMiB)>();
foreach (var handler in new[] { "runc", "moat" })
{
    results[handler] = ([], []);
    for (var i = 0; i < runs; i++)
    {
        var before = Processes();
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = $"bench-{handler}-{i}", Namespace = "bench", Uid = Guid.NewGuid().ToString("N") },
            Hostname = "bench",
            LogDirectory = Path.Combine(Path.GetTempPath(), $"moat-bench-cri-{handler}-{i}"),
            Linux = new LinuxPodSandboxConfig { SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption() } },
        };
        Directory.CreateDirectory(config.LogDirectory);
        var sw = Stopwatch.StartNew();
        var pod = (await cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler })).PodSandboxId;
        var c = await cri.CreateContainerAsync(new CreateContainerRequest
        {
            PodSandboxId = pod,
            SandboxConfig = config,
            Config = new ContainerConfig
            {
                Metadata = new ContainerMetadata { Name = "main" },
                Image = new ImageSpec { Image = "docker.io/library/busybox:latest" },
                Command = { "sleep", "3600" },
                LogPath = "main.log",
            },
        });
        await cri.StartContainerAsync(new StartContainerRequest { ContainerId = c.ContainerId });
        results[handler].StartMs.Add(sw.Elapsed.TotalMilliseconds);
        await Task.Delay(3000);
        var added = Processes().Except(before).ToList();
        results[handler].PssMiB.Add(added.Sum(Pss) / 1024.0);
        await cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod });
        await cri.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod });
        Directory.Delete(config.LogDirectory, recursive: true);
        Console.Error.WriteLine($"{handler} #{i + 1}: start {results[handler].StartMs[^1]:F0} ms, idle PSS {results[handler].PssMiB[^1]:F1} MiB ({added.Count} processes)");
    }
}
using var json = File.CreateText(output);
json.Write("{");
json.Write(string.Join(",", results.Select(r => string.Create(CultureInfo.InvariantCulture,
    $"\"{r.Key}\":{{\"start_ms\":[{string.Join(",", r.Value.StartMs.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}],\"idle_pss_mib\":[{string.Join(",", r.Value.PssMiB.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}]}}"))));
json.WriteLine("}");
return 0;

static HashSet<int> Processes() =>
    Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var p) ? p : 0).Where(p => p > 0).ToHashSet();

static long Pss(int pid)
{
    try
    {
        var line = File.ReadLines($"/proc/{pid}/smaps_rollup").FirstOrDefault(l => l.StartsWith("Pss:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
    catch (IOException)
    {
        return 0;
    }
}
