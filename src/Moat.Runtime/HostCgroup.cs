using System.Globalization;
using Moat.Oci;

namespace Moat.Runtime;

/// <summary>Where a caller put a sandbox's first container on the host: its cgroup and resources, its stand-in process, its OOM rank.</summary>
public sealed record HostPlacement(string? CgroupsPath, LinuxResources? Resources, int StandInPid, int? OomScoreAdj);

/// <summary>
/// The host cgroup a caller named for a sandbox (<c>linux.cgroupsPath</c>), which kubelet accounts
/// and evicts by and Docker's and containerd's runc shim read stats from. Moat puts the sandbox's
/// host processes there (QEMU, the shim daemon, the CLI's relay), in every hierarchy the host has
/// mounted (cgroup v1 controllers, the v2 unified one), writes the caller's CPU and pids limits and
/// its memory limit plus the VM's overhead, and removes what it created when the sandbox goes.
/// </summary>
public sealed class HostCgroup
{
    /// <summary>
    /// The allowance for what a VM costs the host beyond its guest RAM: QEMU's code and heap, its
    /// TCG translation cache (32 MiB), device state and I/O buffers. An allowance with headroom,
    /// not yet a measured bound (the bench's per-pod memory figures are where to measure it).
    /// </summary>
    public const long VmOverheadBytes = 256L << 20;

    private readonly List<string> _dirs;
    private readonly List<string> _created = [];
    private readonly List<string?> _homes = [];
    private readonly bool _unified;

    private HostCgroup(string relative, IReadOnlyList<(string Mount, string Controllers)> hierarchies)
    {
        Relative = relative;
        _unified = hierarchies is [(_, "")];
        _dirs = hierarchies.Select(h => Path.Combine(h.Mount, relative)).ToList();
        Hierarchies = hierarchies;
    }

    /// <summary>The cgroup's path below each hierarchy's root.</summary>
    public string Relative { get; }

    private IReadOnlyList<(string Mount, string Controllers)> Hierarchies { get; }

    /// <summary>
    /// The cgroup <paramref name="cgroupsPath"/> names (cgroupfs form "/a/b", or systemd's
    /// "slice:prefix:name"), made in every hierarchy of <paramref name="mountinfo"/>; null for none.
    /// </summary>
    public static HostCgroup? Create(string? cgroupsPath, string mountinfo = "/proc/self/mountinfo")
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            return null;
        }
        var relative = ToRelativePath(cgroupsPath);
        var hierarchies = Hierarchies_(File.ReadAllLines(mountinfo));
        if (hierarchies.Count == 0)
        {
            return null;
        }
        var cgroup = new HostCgroup(relative, hierarchies);
        // Where this process came from in each hierarchy: what is still in the group when it goes
        // (this process itself, a relay) is moved back there, so the group can be removed.
        var own = OwnCgroups(File.ReadAllLines("/proc/self/cgroup"));
        cgroup._homes.AddRange(hierarchies.Select(h => own.GetValueOrDefault(h.Controllers)));
        try
        {
            foreach (var (mount, controllers) in hierarchies)
            {
                cgroup.MakeDirs(mount, relative, controllers.Split(',').Contains("cpuset"));
            }
            if (cgroup._unified)
            {
                cgroup.EnableUnifiedControllers();
            }
        }
        catch
        {
            cgroup.Remove();
            throw;
        }
        return cgroup;
    }

    /// <summary>
    /// The cgroup's path below a hierarchy's root. "slice:prefix:name" (runc's systemd form) is
    /// the path systemd gives it: each dash of the slice a level ("kubepods-burstable-pod1.slice"
    /// is kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice), then the unit
    /// "prefix-name.scope".
    /// </summary>
    public static string ToRelativePath(string cgroupsPath)
    {
        string relative;
        var parts = cgroupsPath.Split(':');
        if (parts.Length == 3 && !cgroupsPath.StartsWith('/'))
        {
            var (slice, prefix, name) = (parts[0], parts[1], parts[2]);
            var levels = new List<string>();
            if (slice.Length > 0 && slice != "-.slice")
            {
                if (!slice.EndsWith(".slice", StringComparison.Ordinal))
                {
                    throw Bad(cgroupsPath, "the slice must end in .slice");
                }
                var words = slice[..^".slice".Length].Split('-');
                for (var i = 1; i <= words.Length; i++)
                {
                    levels.Add(string.Join('-', words[..i]) + ".slice");
                }
            }
            levels.Add(name.EndsWith(".slice", StringComparison.Ordinal) ? name : $"{(prefix.Length > 0 ? prefix + "-" : "")}{name}.scope");
            relative = string.Join('/', levels);
        }
        else
        {
            relative = cgroupsPath.Trim('/');
        }
        var segments = relative.Split('/');
        if (relative.Length == 0 || segments.Any(s => s.Length == 0 || s is "." or ".."))
        {
            throw Bad(cgroupsPath, "it must name a cgroup below the root, without '.' or '..'");
        }
        return relative;
    }

    /// <summary>Moves <paramref name="pid"/> (all its threads) into the cgroup in every hierarchy.</summary>
    public void Join(int pid)
    {
        foreach (var dir in _dirs)
        {
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// The caller's limits: CPU shares or weight, quota and period, and pids; memory as the
    /// limit plus the VM's guest RAM beyond the limit and <see cref="VmOverheadBytes"/>, as the
    /// host sees a VM (the guest enforces the limit itself).
    /// </summary>
    public void Apply(LinuxResources? resources, long vmMemoryBytes)
    {
        if (resources is null)
        {
            return;
        }
        if (resources.Memory?.Limit is > 0)
        {
            // The VM's RAM already holds the limit (it grew by it), so the VM is the bound.
            var bytes = Math.Max(resources.Memory.Limit.Value, vmMemoryBytes) + VmOverheadBytes;
            Write("memory", _unified ? "memory.max" : "memory.limit_in_bytes", bytes.ToString(CultureInfo.InvariantCulture));
        }
        if (resources.Cpu is { } cpu)
        {
            if (cpu.Shares is > 0)
            {
                Write("cpu", _unified ? "cpu.weight" : "cpu.shares", (_unified ? SharesToWeight(cpu.Shares.Value) : cpu.Shares.Value).ToString(CultureInfo.InvariantCulture));
            }
            if (cpu.Quota is > 0 && cpu.Period is > 0)
            {
                if (_unified)
                {
                    Write("cpu", "cpu.max", FormattableString.Invariant($"{cpu.Quota} {cpu.Period}"));
                }
                else
                {
                    Write("cpu", "cpu.cfs_period_us", cpu.Period.Value.ToString(CultureInfo.InvariantCulture));
                    Write("cpu", "cpu.cfs_quota_us", cpu.Quota.Value.ToString(CultureInfo.InvariantCulture));
                }
            }
        }
        if (resources.Pids?.Limit is > 0)
        {
            Write("pids", "pids.max", resources.Pids.Limit.ToString(CultureInfo.InvariantCulture));
        }
        // Where the host has the controller and the knob (a v1 blkio without a proportional
        // scheduler has no weight, net_cls and net_prio exist only in v1).
        if (resources.Cpu?.Cpus is { Length: > 0 } cpus)
        {
            WriteIfPresent("cpuset", "cpuset.cpus", cpus);
        }
        if (resources.Cpu?.Mems is { Length: > 0 } mems)
        {
            WriteIfPresent("cpuset", "cpuset.mems", mems);
        }
        if (resources.BlockIO?.Weight is > 0 and var weight)
        {
            if (_unified)
            {
                WriteIfPresent("io", "io.weight", (1 + ((Math.Clamp((int)weight, 10, 1000) - 10) * 9999 / 990)).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                WriteIfPresent("blkio", "blkio.weight", weight.ToString(CultureInfo.InvariantCulture));
            }
        }
        foreach (var h in resources.HugepageLimits ?? [])
        {
            WriteIfPresent("hugetlb", _unified ? $"hugetlb.{h.PageSize}.max" : $"hugetlb.{h.PageSize}.limit_in_bytes", h.Limit.ToString(CultureInfo.InvariantCulture));
        }
        if (resources.Network?.ClassId is { } classId)
        {
            WriteIfPresent("net_cls", "net_cls.classid", classId.ToString(CultureInfo.InvariantCulture));
        }
        foreach (var p in resources.Network?.Priorities ?? [])
        {
            WriteIfPresent("net_prio", "net_prio.ifpriomap", FormattableString.Invariant($"{p.Name} {p.Priority}"));
        }
    }

    /// <summary>Like <see cref="Write"/>, for knobs a host may lack: written only where the file exists.</summary>
    private void WriteIfPresent(string controller, string file, string value)
    {
        for (var i = 0; i < Hierarchies.Count; i++)
        {
            var path = Path.Combine(_dirs[i], file);
            if ((_unified || Hierarchies[i].Controllers.Split(',').Contains(controller)) && File.Exists(path))
            {
                File.WriteAllText(path, value);
            }
        }
    }

    /// <summary>
    /// Removes the directories this cgroup created, deepest first, once the processes still in it
    /// (this process, a relay that outlives its VM) are moved back where this process came from.
    /// </summary>
    public void Remove()
    {
        for (var i = 0; i < _dirs.Count; i++)
        {
            if (_homes[i] is not { } home || !_created.Contains(_dirs[i]))
            {
                continue;
            }
            try
            {
                foreach (var pid in File.ReadAllLines(Path.Combine(_dirs[i], "cgroup.procs")).Where(l => l.Length > 0))
                {
                    try
                    {
                        File.WriteAllText(Path.Combine(Hierarchies[i].Mount, home.TrimStart('/'), "cgroup.procs"), pid);
                    }
                    catch (IOException)
                    {
                        // it exited meanwhile
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        foreach (var dir in _created.AsEnumerable().Reverse())
        {
            TryRemoveEmptyGroup(dir, attempts: 50);
        }
        _created.Clear();
    }

    /// <summary>
    /// The clean-up for a sandbox whose shim died (SIGKILL) before it could remove its group:
    /// the group <paramref name="cgroupsPath"/> names, in every hierarchy, once it is empty and
    /// holds no other group. Its parents are left, as runc leaves them.
    /// </summary>
    public static void RemoveLeft(string? cgroupsPath, string mountinfo = "/proc/self/mountinfo")
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            return;
        }
        var relative = ToRelativePath(cgroupsPath);
        foreach (var (mount, _) in Hierarchies_(File.ReadAllLines(mountinfo)))
        {
            TryRemoveEmptyGroup(Path.Combine(mount, relative), attempts: 25);
        }
    }

    /// <summary>
    /// Removes a group that holds no other group, retrying while a process that just exited (QEMU,
    /// a relay) is still leaving it; a group that stays busy, or holds another's, is left, as runc
    /// leaves a busy cgroup.
    /// </summary>
    private static void TryRemoveEmptyGroup(string dir, int attempts)
    {
        if (!Directory.Exists(dir) || Directory.EnumerateDirectories(dir).Any())
        {
            return;
        }
        for (var attempt = 1; attempt <= attempts; attempt++)
        {
            try
            {
                Directory.Delete(dir);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < attempts)
            {
                Thread.Sleep(20);
            }
            catch (IOException)
            {
                // still busy: left
            }
        }
    }

    /// <summary>runc's conversion of cgroup v1 shares (2..262144) to v2 weight (1..10000).</summary>
    internal static ulong SharesToWeight(ulong shares) => shares <= 2 ? 1 : 1 + ((Math.Min(shares, 262144) - 2) * 9999 / 262142);

    private void Write(string controller, string file, string value)
    {
        for (var i = 0; i < Hierarchies.Count; i++)
        {
            if (_unified || Hierarchies[i].Controllers.Split(',').Contains(controller))
            {
                File.WriteAllText(Path.Combine(_dirs[i], file), value);
            }
        }
    }

    private void MakeDirs(string mount, string relative, bool cpuset)
    {
        var dir = mount;
        foreach (var segment in relative.Split('/'))
        {
            var parent = dir;
            dir = Path.Combine(dir, segment);
            if (Directory.Exists(dir))
            {
                continue;
            }
            Directory.CreateDirectory(dir);
            _created.Add(dir);
            if (cpuset)
            {
                // A v1 cpuset group takes no task until it has CPUs and memory nodes: its parent's.
                foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
                {
                    var value = File.ReadAllText(Path.Combine(parent, file)).Trim();
                    var own = Path.Combine(dir, file);
                    if (!File.Exists(own) || File.ReadAllText(own).Trim().Length == 0)
                    {
                        File.WriteAllText(Path.Combine(dir, file), value);
                    }
                }
            }
        }
    }

    /// <summary>cgroup v2: the controllers limits are written for, enabled down to the new group.</summary>
    private void EnableUnifiedControllers()
    {
        var mount = Hierarchies[0].Mount;
        var dir = mount;
        foreach (var segment in Relative.Split('/'))
        {
            foreach (var c in new[] { "cpu", "cpuset", "io", "memory", "pids", "hugetlb" })
            {
                try
                {
                    File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "+" + c);
                }
                catch (IOException)
                {
                    // not available here (or not delegated): its limits cannot be written either
                }
            }
            dir = Path.Combine(dir, segment);
        }
    }

    /// <summary>
    /// The hierarchies mounted at their root: on a cgroup v2 host the unified one alone; on a v1
    /// or hybrid host each v1 hierarchy (with its controllers, "name=systemd" included).
    /// </summary>
    internal static List<(string Mount, string Controllers)> Hierarchies_(IEnumerable<string> mountinfo)
    {
        var v1 = new List<(string, string)>();
        (string, string)? v2 = null;
        foreach (var line in mountinfo)
        {
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (dash < 0 || fields.Length < dash + 4 || fields[3] != "/")
            {
                continue;
            }
            var (mount, type, options) = (fields[4], fields[dash + 1], fields[dash + 3]);
            if (type == "cgroup2")
            {
                v2 ??= (mount, "");
            }
            else if (type == "cgroup")
            {
                var controllers = string.Join(',', options.Split(',').Where(o => o is not ("rw" or "ro" or "nosuid" or "nodev" or "noexec" or "relatime" or "clone_children" or "xattr" or "noprefix" or "cpuset_v2_mode")
                    && !o.StartsWith("release_agent=", StringComparison.Ordinal)));
                v1.Add((mount, controllers));
            }
        }
        // Hybrid hosts also mount a v2 hierarchy (/sys/fs/cgroup/unified) without the controllers: runc joins it too.
        return v1.Count > 0 ? [.. v1, .. v2 is { } u ? new[] { u } : []] : v2 is { } only ? [only] : [];
    }

    /// <summary>/proc/self/cgroup as controllers (as the hierarchies name them; "" for v2) to path.</summary>
    internal static Dictionary<string, string> OwnCgroups(IEnumerable<string> procSelfCgroup)
    {
        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in procSelfCgroup)
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3)
            {
                own[parts[1]] = parts[2];
            }
        }
        return own;
    }

    private static RuntimeException Bad(string path, string why) =>
        new(RuntimeErrorKind.InvalidArgument, $"linux.cgroupsPath \"{path}\": {why}");
}
