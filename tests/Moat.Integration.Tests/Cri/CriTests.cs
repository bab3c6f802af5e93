using Google.Protobuf;
using Grpc.Core;

namespace Moat.Integration.Tests.Cri;

/// <summary>Pods under Moat through containerd's CRI plugin, driven with the calls kubelet makes.</summary>
[Collection("vm")]
public sealed partial class CriTests : IClassFixture<CriFixture>, IAsyncLifetime
{
    private readonly CriFixture _cri;
    private readonly List<string> _pods = [];
    private HashSet<string> _socketsBefore = [];
    private HashSet<string> _netnsBefore = [];

    public CriTests(CriFixture cri) => _cri = cri;

    private RuntimeService.RuntimeServiceClient Runtime => _cri.Runtime;

    public Task InitializeAsync()
    {
        _socketsBefore = Leftovers.Sockets();
        _netnsBefore = NetworkNamespaces();
        return Task.CompletedTask;
    }

    /// <summary>After each test: every pod it made is gone, and so is every VM, shim, mount, socket and state directory.</summary>
    public async Task DisposeAsync()
    {
        foreach (var pod in _pods)
        {
            try
            {
                await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod });
                await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod });
            }
            catch (RpcException)
            {
            }
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        List<string> left;
        while ((left = LeftBehind()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        if (left.Count > 0)
        {
            await Leftovers.ReapAsync(StateRoot, _cri.Dir + "/state");
        }
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }

    private static string StateRoot => "/run/moat-node/containerd/k8s.io";

    private static HashSet<string> NetworkNamespaces() =>
        Directory.Exists("/run/netns") ? Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).OfType<string>().ToHashSet() : [];

    private List<string> LeftBehind()
    {
        var found = Leftovers.Find(StateRoot, _socketsBefore);
        found.AddRange(NetworkNamespaces().Where(n => !_netnsBefore.Contains(n)).Select(n => "netns " + n)); // CNI's, which StopPodSandbox removes
        found.AddRange(Leftovers.ShimProcesses());
        found.AddRange(Leftovers.RelayProcesses());
        found.AddRange(Leftovers.Find(Path.Combine(_cri.RuncShimRoot, "k8s.io"), _socketsBefore)); // moat's own state (--root) under the runc shim
        return found;
    }

    private PodSandboxConfig PodConfig(string name, NamespaceMode network = NamespaceMode.Pod, NamespaceMode ipc = NamespaceMode.Pod) => new()
    {
        Metadata = new PodSandboxMetadata { Name = name, Namespace = "moat-test", Uid = Guid.NewGuid().ToString("N") },
        Hostname = name,
        LogDirectory = Path.Combine(_cri.Dir, "logs", name),
        Linux = new LinuxPodSandboxConfig
        {
            SecurityContext = new LinuxSandboxSecurityContext
            {
                NamespaceOptions = new NamespaceOption { Network = network, Pid = NamespaceMode.Container, Ipc = ipc },
            },
        },
    };

    private async Task<(string Pod, PodSandboxConfig Config)> RunPod(string name, string handler = "moat", Action<PodSandboxConfig>? edit = null)
    {
        var config = PodConfig(name);
        edit?.Invoke(config);
        Directory.CreateDirectory(config.LogDirectory);
        var r = await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler });
        lock (_pods)
        {
            _pods.Add(r.PodSandboxId); // pods may be started at once
        }
        return (r.PodSandboxId, config);
    }

    private async Task<string> StartContainer(string pod, PodSandboxConfig podConfig, string name, string[] command, Action<ContainerConfig>? edit = null)
    {
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name },
            Image = new ImageSpec { Image = CriFixture.Busybox },
            Command = { command },
            LogPath = name + ".log",
        };
        edit?.Invoke(config);
        // kubelet gives each container its pod's namespace options (PID: its own, unless shareProcessNamespace).
        config.Linux ??= new LinuxContainerConfig();
        config.Linux.SecurityContext ??= new LinuxContainerSecurityContext();
        config.Linux.SecurityContext.NamespaceOptions ??= podConfig.Linux.SecurityContext.NamespaceOptions.Clone();
        var c = await Runtime.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = pod, Config = config, SandboxConfig = podConfig });
        await Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = c.ContainerId });
        return c.ContainerId;
    }

    private async Task<ExecSyncResponse> Exec(string container, params string[] cmd)
    {
        return await Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = container, Cmd = { cmd }, Timeout = 60 });
    }

    private static string Text(ByteString b) => b.ToStringUtf8();

    /// <summary>Issue 18's concurrency target: ten pods asked for at once all start.</summary>
    [Fact]
    public async Task TenPodsStartedAtOnceAllBecomeReady()
    {
        var pods = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(() => RunPod($"burst-{i}"))));
        foreach (var (pod, _) in pods)
        {
            var status = await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod });
            Assert.Equal(PodSandboxState.SandboxReady, status.Status.State);
        }
    }

    /// <summary>containerd restarted under a running pod (issue 18): the pod, its VM and its container carry on and answer CRI as before.</summary>
    [Fact]
    public async Task APodCarriesOnThroughAContainerdRestart()
    {
        var (pod, podConfig) = await RunPod("restart");
        var c = await StartContainer(pod, podConfig, "main", ["sleep", "300"]);
        Assert.Equal(0, (await Exec(c, "true")).ExitCode);

        await _cri.RestartAsync();

        var status = await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod });
        Assert.Equal(PodSandboxState.SandboxReady, status.Status.State);
        var after = await Exec(c, "echo", "still here");
        Assert.True(after.ExitCode == 0, Text(after.Stderr));
        Assert.Equal("still here\n", Text(after.Stdout));
        await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = c, Timeout = 2 });
        var cs = await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = c });
        Assert.Equal(ContainerState.ContainerExited, cs.Status.State);
        // DisposeAsync stops and removes the pod and checks that nothing is left.
    }

    [Fact]
    public async Task PodLifecycleAsKubeletDrivesIt()
    {
        var (pod, podConfig) = await RunPod("life");
        var status = await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod });
        Assert.Equal(PodSandboxState.SandboxReady, status.Status.State);
        Assert.Equal("moat", status.Status.RuntimeHandler);

        var c = await StartContainer(pod, podConfig, "main", ["sleep", "300"], cfg =>
            cfg.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 64L << 20 } });
        var uname = await Exec(c, "uname", "-r");
        Assert.True(uname.ExitCode == 0, Text(uname.Stderr));
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), Text(uname.Stdout).Trim());

        var failing = await Exec(c, "sh", "-c", "echo to-stderr >&2; exit 7");
        Assert.Equal(7, failing.ExitCode);
        Assert.Equal("to-stderr\n", Text(failing.Stderr));

        var cs = await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = c });
        Assert.Equal(ContainerState.ContainerRunning, cs.Status.State);
        var stats = await Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = c });
        Assert.True(stats.Stats.Memory.WorkingSetBytes.Value > 0, stats.ToString());
        Assert.True(stats.Stats.Cpu.UsageCoreNanoSeconds.Value > 0, stats.ToString());

        await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = c, Timeout = 2 });
        cs = await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = c });
        Assert.Equal(ContainerState.ContainerExited, cs.Status.State);
        await Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = c });
        await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod });
        await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod });
        _pods.Remove(pod);
    }

    [Fact]
    public async Task ContainersOfAPodShareTheVmAndItsVolumes()
    {
        var (pod, podConfig) = await RunPod("share");
        var volume = Directory.CreateTempSubdirectory("moat-cri-vol-").FullName;
        try
        {
            Action<ContainerConfig> mount = cfg => cfg.Mounts.Add(new Mount { ContainerPath = "/data", HostPath = volume });
            var a = await StartContainer(pod, podConfig, "a", ["sleep", "300"], mount);
            var b = await StartContainer(pod, podConfig, "b", ["sleep", "300"], cfg =>
            {
                mount(cfg);
                cfg.Mounts.Add(new Mount { ContainerPath = "/ro", HostPath = volume, Readonly = true });
            });
            // Moat's agent and helpers may run at fixed addresses under TCG; the workload and execs never do.
            var aslr = Text((await Exec(b, "cat", "/proc/1/personality", "/proc/self/personality", "/proc/sys/kernel/randomize_va_space")).Stdout);
            Assert.Equal(["00000000", "00000000", "2"], aslr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            var bootA = await Exec(a, "cat", "/proc/sys/kernel/random/boot_id");
            var bootB = await Exec(b, "cat", "/proc/sys/kernel/random/boot_id");
            Assert.Equal(Text(bootA.Stdout), Text(bootB.Stdout));

            var write = await Exec(a, "sh", "-c", "echo from-a > /data/note");
            Assert.True(write.ExitCode == 0, Text(write.Stderr));
            var read = await Exec(b, "cat", "/data/note");
            Assert.Equal("from-a\n", Text(read.Stdout));
            Assert.Equal("from-a\n", File.ReadAllText(Path.Combine(volume, "note")));
            var ro = await Exec(b, "sh", "-c", "echo x > /ro/other");
            Assert.NotEqual(0, ro.ExitCode);

            // The files CRI adds reach the guest too.
            var hostname = await Exec(b, "cat", "/etc/hostname");
            Assert.Equal("share", Text(hostname.Stdout).Trim());
            Assert.Equal("share", Text((await Exec(b, "hostname")).Stdout).Trim());
        }
        finally
        {
            Directory.Delete(volume, recursive: true);
        }
    }

    [Fact]
    public async Task PodHttpdAnswersTheHostAndAnotherPodAtThePodIp()
    {
        var (web, webConfig) = await RunPod("web");
        await StartContainer(web, webConfig, "httpd",
            ["sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"]);
        var ip = (await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = web })).Status.Network.Ip;
        Assert.StartsWith("10.88.77.", ip);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? body = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (body is null)
        {
            try
            {
                body = await http.GetStringAsync($"http://{ip}:8080/index.html");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500); // httpd still starting
            }
        }
        Assert.Equal("hello-from-pod\n", body);

        var (client, clientConfig) = await RunPod("client");
        var c = await StartContainer(client, clientConfig, "main", ["sleep", "300"]);
        var fetched = await Exec(c, "wget", "-q", "-O", "-", $"http://{ip}:8080/index.html");
        Assert.True(fetched.ExitCode == 0, Text(fetched.Stderr));
        Assert.Equal("hello-from-pod\n", Text(fetched.Stdout));
    }

    [Fact]
    public async Task InstallRunTwiceLeavesTheSameFiles()
    {
        // containerd is already running on what the first run wrote: a second run changes nothing.
        var again = await Cmd.RunAsync(Cmd.Moat, ["install", "containerd", "--config-file", _cri.ConfigPath, "--untrusted-workload"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("already configured, nothing changed", again.Stdout);
        Assert.Equal(_cri.InstalledConfig, File.ReadAllText(_cri.ConfigPath));
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.moat]", _cri.InstalledConfig);

        var dir = Directory.CreateTempSubdirectory("moat-install-").FullName;
        try
        {
            var daemonJson = Path.Combine(dir, "daemon.json");
            File.WriteAllText(daemonJson, "{ \"debug\": true }\n");
            Assert.Equal(0, (await Cmd.RunAsync(Cmd.Moat, ["install", "docker", "--config-file", daemonJson])).ExitCode);
            var first = File.ReadAllText(daemonJson);
            var doc = System.Text.Json.JsonDocument.Parse(first).RootElement;
            Assert.True(doc.GetProperty("debug").GetBoolean());
            Assert.EndsWith("/moat", doc.GetProperty("runtimes").GetProperty("moat").GetProperty("path").GetString());
            Assert.Equal("{ \"debug\": true }\n", File.ReadAllText(daemonJson + ".moat-backup"));
            Assert.Equal(0, (await Cmd.RunAsync(Cmd.Moat, ["install", "docker", "--config-file", daemonJson])).ExitCode);
            Assert.Equal(first, File.ReadAllText(daemonJson));

            // An extra handler name gets its shim link; bad input is named.
            var toml = Path.Combine(dir, "config.toml");
            var r = await Cmd.RunAsync(Cmd.Moat, ["install", "containerd", "--config-file", toml, "--extra-handler", "kata", "--bin-dir", dir]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.EndsWith("containerd-shim-moat-v2", new FileInfo(Path.Combine(dir, "containerd-shim-kata-v2")).LinkTarget);
            Assert.Contains("runtime_type = \"io.containerd.kata.v2\"", File.ReadAllText(toml));
            File.WriteAllText(toml, "version = 1\n");
            r = await Cmd.RunAsync(Cmd.Moat, ["install", "containerd", "--config-file", toml]);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("is not a version 2 containerd configuration", r.Stderr);
            Assert.Equal("version = 1\n", File.ReadAllText(toml));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ContainerWithACpuLimitAddsVcpusToTheRunningPod()
    {
        // The pod's VM boots with the configured vCPU (the pause container has no limit); a container
        // with a one-CPU limit hotplugs one more (capped at the host's CPUs), and every container sees it.
        var (pod, podConfig) = await RunPod("cpus");
        var a = await StartContainer(pod, podConfig, "a", ["sleep", "300"]);
        Assert.Equal("1", Text((await Exec(a, "nproc")).Stdout).Trim());

        var b = await StartContainer(pod, podConfig, "b", ["sleep", "300"], cfg =>
            cfg.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { CpuPeriod = 100000, CpuQuota = 100000 } });
        var expected = Math.Min(2, Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, Text((await Exec(b, "nproc")).Stdout).Trim());
        Assert.Equal(expected, Text((await Exec(a, "nproc")).Stdout).Trim());
        Assert.Equal("100000 100000", await CpuMax(b));

        // Raising the limit (kubelet's UpdateContainerResources) grows the VM again, up to the host's CPUs.
        await Runtime.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
        {
            ContainerId = b,
            Linux = new LinuxContainerResources { CpuPeriod = 100000, CpuQuota = 250000 },
        });
        expected = Math.Min(1 + 3, Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, Text((await Exec(b, "nproc")).Stdout).Trim());
        Assert.Equal("250000 100000", await CpuMax(b));
    }

    /// <summary>The container's own cgroup's cpu.max, as the guest enforces it.</summary>
    private async Task<string> CpuMax(string container)
    {
        var r = await Exec(container, "sh", "-c", "cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cpu.max");
        Assert.True(r.ExitCode == 0, Text(r.Stderr));
        return Text(r.Stdout).Trim();
    }

    [Fact]
    public async Task ContainerOverItsMemoryLimitIsOomKilledAndReported()
    {
        var (pod, podConfig) = await RunPod("oom");
        var c = await StartContainer(pod, podConfig, "hog", ["tail", "/dev/zero"], cfg =>
            cfg.Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 32L << 20 } });
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        ContainerStatus status;
        while ((status = (await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = c })).Status).State != ContainerState.ContainerExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {status.State} after a minute");
            await Task.Delay(500);
        }
        Assert.Equal(137, status.ExitCode);
        Assert.Equal("OOMKilled", status.Reason);
    }

    [Fact]
    public async Task HostIpcPodIsRefusedClearly()
    {
        var config = PodConfig("hostipc", ipc: NamespaceMode.Node);
        Directory.CreateDirectory(config.LogDirectory);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = "moat" }));
        Assert.Contains("host IPC", e.Status.Detail);
        Assert.Contains("runc", e.Status.Detail);
    }

    [Fact]
    public async Task HostNetworkPodIsRefusedClearly()
    {
        var config = PodConfig("hostnet", NamespaceMode.Node);
        Directory.CreateDirectory(config.LogDirectory);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = "moat" }));
        Assert.Contains("host network", e.Status.Detail);
        Assert.Contains("runc", e.Status.Detail);
    }

    [Fact]
    public async Task UntrustedWorkloadAnnotationSelectsMoat()
    {
        var (pod, podConfig) = await RunPod("untrusted", handler: "", edit: cfg => cfg.Annotations["io.kubernetes.cri.untrusted-workload"] = "true");
        var c = await StartContainer(pod, podConfig, "main", ["sleep", "300"]);
        var uname = await Exec(c, "uname", "-r");
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), Text(uname.Stdout).Trim());
    }

    [Fact]
    public async Task DropAllLeavesTheContainerAndItsExecsWithoutCapabilities()
    {
        var (pod, podConfig) = await RunPod("nocaps");
        var c = await StartContainer(pod, podConfig, "main", ["sleep", "300"], cfg => cfg.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { Capabilities = new Capability { DropCapabilities = { "ALL" } } },
        });
        var r = await Exec(c, "sh", "-c", GuestPrivileges.InitAndSelfScript);
        Assert.True(r.ExitCode == 0, Text(r.Stderr));
        var (init, self) = GuestPrivileges.SplitInitAndSelf(Text(r.Stdout));
        GuestPrivileges.AssertNoCapabilities(init);
        GuestPrivileges.AssertNoCapabilities(self);
    }

    /// <summary>kubelet's seccompProfile: RuntimeDefault (containerd's default profile) and Localhost (a file on the node).</summary>
    [Fact]
    public async Task RuntimeDefaultAndLocalhostSeccompProfilesAreEnforced()
    {
        var (pod, podConfig) = await RunPod("seccomp");
        var profile = Path.Combine(_cri.Dir, "block-sethostname.json");
        File.WriteAllText(profile, GuestPrivileges.BlockSethostname().ToJsonString());
        var byDefault = await StartContainer(pod, podConfig, "default", ["sleep", "300"], cfg => cfg.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext { Seccomp = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.RuntimeDefault } },
        });
        var local = await StartContainer(pod, podConfig, "local", ["sleep", "300"], cfg => cfg.Linux = new LinuxContainerConfig
        {
            SecurityContext = new LinuxContainerSecurityContext
            {
                Seccomp = new SecurityProfile { ProfileType = SecurityProfile.Types.ProfileType.Localhost, LocalhostRef = profile },
                Capabilities = new Capability { AddCapabilities = { "SYS_ADMIN" } },
            },
        });

        var d = await Exec(byDefault, "sh", "-c", GuestPrivileges.InitAndSelfScript);
        Assert.True(d.ExitCode == 0, Text(d.Stderr));
        var (init, self) = GuestPrivileges.SplitInitAndSelf(Text(d.Stdout));
        Assert.Equal("2", GuestPrivileges.Parse(init)["Seccomp"]);
        Assert.Equal("2", GuestPrivileges.Parse(self)["Seccomp"]);

        var l = await Exec(local, "sh", "-c", GuestPrivileges.InitAndSelfScript + "; " + GuestPrivileges.HostnameScript);
        Assert.True(l.ExitCode == 0, Text(l.Stderr));
        (init, self) = GuestPrivileges.SplitInitAndSelf(Text(l.Stdout));
        Assert.Equal("2", GuestPrivileges.Parse(init)["Seccomp"]);
        GuestPrivileges.AssertSethostnameBlocked(self);
        Assert.Equal("seccomp", Text((await Exec(local, "hostname")).Stdout).Trim()); // the pod's hostname stayed
    }
}
