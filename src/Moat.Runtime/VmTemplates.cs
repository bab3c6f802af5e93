using System.Globalization;
using Moat.Hypervisor;
using Moat.Protocols.Agent;

namespace Moat.Runtime;

/// <summary>
/// VM templates (the idea of Kata's VM factory). A VM of one shape is booted once, until its agent
/// and standby helper wait idle, and saved: its RAM in a file, its devices in a state file. A later
/// VM of the same shape restores that state (QEMU <c>-incoming</c>) instead of booting a kernel,
/// with its RAM mapped copy-on-write from the file, so clones also share the pages they never write.
/// A template is keyed by everything that makes the VM (the QEMU argv without per-VM paths, and
/// the identity of QEMU, kernel, initrd and firmware): any change makes a new key.
/// </summary>
public sealed class VmTemplates
{
    private const string MemoryFileName = "memory";
    private const string StateFileName = "state";
    private const string StreamFileName = "stream-id";
    private const string FailedSuffix = ".failed";
    private const string NewSuffix = ".new";
    private const string LockSuffix = ".lock";

    /// <summary>How long a failed creation keeps further runs from trying again.</summary>
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(10);

    /// <summary>How long to wait for the agent's standby helper before saving anyway.</summary>
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Templates kept; making one more drops the least recently restored.</summary>
    public const int MaxTemplates = 4;

    private const int KeyLength = 24;

    private readonly string _root;

    public VmTemplates(string root) => _root = root;

    /// <summary>A saved template: RAM file, device state, and the last ttrpc stream id its agent saw.</summary>
    public sealed record Template(string Key, string Dir, uint LastStreamId)
    {
        public string MemoryPath => Path.Combine(Dir, MemoryFileName);
        public string StatePath => Path.Combine(Dir, StateFileName);
    }

    /// <summary>
    /// The MAC a template's NIC number <paramref name="index"/> is saved with (locally administered);
    /// a clone's agent gives the interface the pod's MAC (<c>NetworkInterface.current_mac</c>).
    /// </summary>
    public static string PlaceholderMac(int index) => string.Create(CultureInfo.InvariantCulture, $"02:6d:6f:61:74:{index:x2}");

    private static IReadOnlyList<NicConfig> PlaceholderNics(VmConfig config) =>
        config.Nics.Select((n, i) => n with { Mac = PlaceholderMac(i) }).ToList();

    /// <summary>The template key of <paramref name="config"/>: its QEMU argv with per-VM paths fixed, and the files it boots.</summary>
    public static string Key(VmConfig config)
    {
        var normalized = config with
        {
            Name = "template",
            QmpSocket = "@moat/template/qmp",
            AgentSocket = "@moat/template/agent",
            Shares = config.Shares.Select((s, i) => s with { HostPath = "/template/share" + i.ToString(CultureInfo.InvariantCulture) }).ToList(),
            PidFile = null,
            MemoryFile = new MemoryFile("/template/memory", Shared: false),
            FreePageReporting = false,
            IncomingStatePath = null,
            Nics = PlaceholderNics(config),
        };
        var parts = new List<string>(QemuCommandLine.Build(normalized)) { config.Accelerator.ToString() };
        if (config.Accelerator == Accel.Kvm)
        {
            // What the KVM canary keys on: a template saved under one host kernel or CPU is not restored under another.
            parts.Add(File.ReadAllText("/proc/sys/kernel/osrelease").Trim());
            parts.Add(AcceleratorVerdicts.CpuModel());
        }
        foreach (var file in new[] { config.QemuBinary, config.KernelPath, config.InitrdPath, config.FirmwarePath, config.ModulesDisk })
        {
            parts.Add(file is null ? "-" : FileIdentity(file));
        }
        return NameHash.Hex(string.Join('\0', parts), KeyLength);
    }

    private static string FileIdentity(string path)
    {
        var info = new FileInfo(path);
        return info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{path}:{info.Length}:{info.LastWriteTimeUtc.Ticks}")
            : path + ":missing";
    }

    /// <summary>The saved template for <paramref name="key"/>, or null.</summary>
    public Template? Find(string key)
    {
        var dir = Path.Combine(_root, key);
        try
        {
            if (!File.Exists(Path.Combine(dir, MemoryFileName)) || !File.Exists(Path.Combine(dir, StateFileName)))
            {
                return null;
            }
            var template = new Template(key, dir, uint.Parse(File.ReadAllText(Path.Combine(dir, StreamFileName)).Trim(), CultureInfo.InvariantCulture));
            Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow); // recently used: kept by Prune
            return template;
        }
        catch (Exception e) when (e is IOException or FormatException or OverflowException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The saved templates' directories (named by their key; not the ones being made).</summary>
    public IEnumerable<DirectoryInfo> Saved() => Directory.Exists(_root)
        ? new DirectoryInfo(_root).EnumerateDirectories().Where(d => d.Name.Length == KeyLength && d.Name.All(char.IsAsciiHexDigitLower))
        : [];

    /// <summary>
    /// Removes the work directories of templates whose maker is gone (killed, or the host
    /// rebooted while it ran): a maker holds its key's lock for as long as it works.
    /// </summary>
    /// <returns>The directories it removed.</returns>
    public IReadOnlyList<string> SweepUnfinished()
    {
        var swept = new List<string>();
        if (!Directory.Exists(_root))
        {
            return swept;
        }
        foreach (var tmp in Directory.EnumerateDirectories(_root, "*" + NewSuffix))
        {
            var key = Path.GetFileName(tmp)[..^NewSuffix.Length];
            try
            {
                using var held = new FileStream(Path.Combine(_root, key + LockSuffix), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                Directory.Delete(tmp, recursive: true);
                swept.Add(tmp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // its maker is at work (the lock is held), or it is not ours to remove
            }
        }
        return swept;
    }

    /// <summary>Deletes the template for <paramref name="key"/> (it failed to restore).</summary>
    public void Remove(string key)
    {
        try
        {
            Directory.Delete(Path.Combine(_root, key), recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone already, or not ours to delete: the next restore fails and boots again
        }
    }

    /// <summary>Deletes every template (the guest image they were made from was replaced).</summary>
    public void Clear()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>
    /// Boots a VM of <paramref name="config"/>'s shape and saves it as the template for
    /// <paramref name="key"/>. Returns null, having logged why, when another process is making it,
    /// when a recent attempt failed, or when this one fails: the caller then boots as usual.
    /// </summary>
    public async Task<Template?> CreateAsync(string key, VmConfig config, IReadOnlyList<string> helperCommand, TimeSpan agentTimeout,
        PhaseLog log, CancellationToken ct)
    {
        var failed = Path.Combine(_root, key + FailedSuffix);
        FileStream lockFile;
        try
        {
            // Root only: a template's memory is a guest's, from before each clone's reseed.
            const UnixFileMode rootOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Directory.CreateDirectory(_root, rootOnly);
            File.SetUnixFileMode(_root, rootOnly);
            if (File.Exists(failed) && DateTime.UtcNow - File.GetLastWriteTimeUtc(failed) < RetryAfterFailure)
            {
                log.Phase($"no VM template: making one failed {(DateTime.UtcNow - File.GetLastWriteTimeUtc(failed)).TotalSeconds:F0} s ago ({File.ReadAllText(failed).Trim()})");
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Phase($"no VM template: {_root}: {e.Message}");
            return null;
        }
        try
        {
            lockFile = new FileStream(Path.Combine(_root, key + LockSuffix), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            log.Phase("no VM template: another process is making it");
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            log.Phase($"no VM template: {e.Message}");
            return null;
        }
        await using var _ = lockFile.ConfigureAwait(false);
        if (Find(key) is { } made)
        {
            return made;
        }
        var tmp = Path.Combine(_root, key + NewSuffix);
        try
        {
            if (Directory.Exists(tmp))
            {
                Directory.Delete(tmp, recursive: true); // left by a process killed while making it
            }
            Directory.CreateDirectory(tmp);
            var template = await BootAndSaveAsync(key, tmp, config, helperCommand, agentTimeout, log, ct).ConfigureAwait(false);
            File.Delete(failed);
            Prune(log);
            return template;
        }
        catch (Exception e) when (e is RuntimeException or IOException or UnauthorizedAccessException or Moat.Ttrpc.TtrpcException
            or System.Net.Sockets.SocketException or QmpException)
        {
            TryWrite(failed, e.Message + Environment.NewLine);
            log.Phase($"no VM template: making it failed: {e.Message}");
            if (e is RuntimeException { Fault: not null })
            {
                throw; // the guest never came up: booting the same guest again would wait as long
            }
            return null;
        }
        finally
        {
            try
            {
                if (Directory.Exists(tmp))
                {
                    Directory.Delete(tmp, recursive: true);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Phase($"VM template {key}: cannot remove {tmp}: {e.Message}");
            }
        }
    }

    private static void TryWrite(string path, string text)
    {
        try
        {
            File.WriteAllText(path, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Deletes the least recently used templates beyond <see cref="MaxTemplates"/> (lock files stay: another process may hold one).</summary>
    private void Prune(PhaseLog log)
    {
        var stale = Saved().OrderByDescending(d => d.LastWriteTimeUtc).Skip(MaxTemplates);
        foreach (var dir in stale)
        {
            try
            {
                dir.Delete(recursive: true);
                log.Phase($"VM template {dir.Name} dropped (least recently used of more than {MaxTemplates})");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Phase($"VM template {dir.Name}: cannot drop it: {e.Message}");
            }
        }
    }

    private async Task<Template> BootAndSaveAsync(string key, string tmp, VmConfig config, IReadOnlyList<string> helperCommand, TimeSpan agentTimeout,
        PhaseLog log, CancellationToken ct)
    {
        var share = Path.Combine(tmp, "share");
        Directory.CreateDirectory(share);
        // Filesystem sockets: with NICs, QEMU runs in a network namespace of its own (taps, no pod).
        var bootConfig = config with
        {
            Name = "moat-template-" + key[..8],
            QmpSocket = Path.Combine(tmp, "qmp.sock"),
            AgentSocket = Path.Combine(tmp, "agent.sock"),
            Nics = PlaceholderNics(config),
            Shares = config.Shares.Select(s => s with { HostPath = share }).ToList(),
            PidFile = null,
            MemoryFile = new MemoryFile(Path.Combine(tmp, MemoryFileName), Shared: true),
            FreePageReporting = false,
            IncomingStatePath = null,
            AllowSpawn = true, // migrate "exec:cat > state"; this VM runs only Moat's agent
        };
        var vm = new QemuHypervisor(helperCommand, share, [], privateNetwork: bootConfig.Nics.Count > 0);
        await using var vmScope = vm.ConfigureAwait(false);
        await vm.StartAsync(bootConfig, ct).ConfigureAwait(false);
        log.Phase($"VM template {key}: booting (qemu pid {vm.Pid})");
        var agent = new AgentClient(await AgentConnection.ConnectAsync(bootConfig.AgentSocket, vm, ct).ConfigureAwait(false));
        await using var agentScope = agent.ConfigureAwait(false);
        var check = await AgentConnection.CheckAsync(agent, vm, agentTimeout, ct).ConfigureAwait(false);
        var settle = DateTime.UtcNow + SettleTimeout;
        while (!check.StandbyReady && DateTime.UtcNow < settle)
        {
            await Task.Delay(20, ct).ConfigureAwait(false);
            check = await agent.CheckAsync(agentTimeout, ct).ConfigureAwait(false);
        }
        var lastStreamId = agent.Connection.LastStreamId;
        await vm.SaveStateAsync(Path.Combine(tmp, StateFileName), TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
        await vm.DisposeAsync().ConfigureAwait(false);
        File.WriteAllText(Path.Combine(tmp, StreamFileName), lastStreamId.ToString(CultureInfo.InvariantCulture));
        foreach (var leftover in new[] { "qmp.sock", "agent.sock" })
        {
            File.Delete(Path.Combine(tmp, leftover));
        }
        Directory.Delete(share);
        var dir = Path.Combine(_root, key);
        Directory.Move(tmp, dir);
        log.Phase($"VM template {key} saved{(check.StandbyReady ? "" : " (the standby helpers were not ready)")}");
        return new Template(key, dir, lastStreamId);
    }
}
