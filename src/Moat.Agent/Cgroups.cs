using System.Globalization;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// One cgroup v2 group per container under <c>ROOT/containers</c>: the spec's memory, CPU and
/// pids limits are enforced there, and its interface files are the container's statistics. The
/// guest's is <see cref="Guest"/> (ROOT /sys/fs/cgroup); tests give a directory of their own and
/// read what was written.
/// </summary>
internal sealed class Cgroups(string root)
{
    /// <summary>The guest's cgroup v2 hierarchy.</summary>
    public static readonly Cgroups Guest = new("/sys/fs/cgroup");

    private string Root => root;
    private string Parent => Path.Combine(root, "containers");

    public static readonly string[] StatFiles =
        ["cpu.stat", "memory.stat", "memory.current", "memory.max", "memory.swap.current", "memory.swap.max", "memory.events", "pids.current", "pids.max"];

    /// <summary>Enables the controllers for the containers' groups (at boot).</summary>
    public void Init()
    {
        try
        {
            Directory.CreateDirectory(Parent);
            foreach (var dir in new[] { Root, Parent })
            {
                foreach (var c in new[] { "cpu", "memory", "pids", "io" })
                {
                    TryWrite(Path.Combine(dir, "cgroup.subtree_control"), "+" + c);
                }
            }
        }
        catch (IOException e)
        {
            Log.Info($"cgroups: {e.Message}");
        }
    }

    public string PathOf(string containerId) => Path.Combine(Parent, containerId);

    /// <summary>Creates the container's group with the spec's limits.</summary>
    public void Create(string containerId, LinuxResources? resources)
    {
        Directory.CreateDirectory(PathOf(containerId));
        Apply(containerId, resources);
    }

    /// <summary>Writes the limits the resources set (at creation, and on update).</summary>
    public void Apply(string containerId, LinuxResources? resources)
    {
        var dir = PathOf(containerId);
        if (resources?.Memory?.Limit is long mem && mem > 0)
        {
            Write(dir, "memory.max", mem.ToString(CultureInfo.InvariantCulture));
            if (resources.Memory.Swap is long swap && swap >= mem)
            {
                TryWrite(Path.Combine(dir, "memory.swap.max"), (swap - mem).ToString(CultureInfo.InvariantCulture));
            }
        }
        if (resources?.Cpu is { } cpu && cpu.Quota is long quota && quota > 0)
        {
            Write(dir, "cpu.max", $"{quota} {cpu.Period ?? 100000}");
        }
        if (resources?.Cpu?.Shares is ulong shares && shares > 0)
        {
            // cgroup v1 shares (2..262144) to v2 weight (1..10000), as runc converts them.
            TryWrite(Path.Combine(dir, "cpu.weight"), (1 + ((shares - 2) * 9999 / 262142)).ToString(CultureInfo.InvariantCulture));
        }
        if (resources?.Pids?.Limit is long pids && pids > 0)
        {
            Write(dir, "pids.max", pids.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Moves a process (and so everything it later starts) into the container's group.</summary>
    public void Join(string containerId, int pid) =>
        Write(PathOf(containerId), "cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

    public Dictionary<string, string> Read(string containerId)
    {
        var dir = PathOf(containerId);
        var files = new Dictionary<string, string>();
        foreach (var f in StatFiles)
        {
            try
            {
                files[f] = File.ReadAllText(Path.Combine(dir, f));
            }
            catch (IOException)
            {
                // controller not enabled in this guest kernel
            }
        }
        return files;
    }

    /// <summary>Freezes or thaws the container's group and waits until the kernel reports it done.</summary>
    public async Task FreezeAsync(string containerId, bool frozen, CancellationToken ct)
    {
        var dir = PathOf(containerId);
        Write(dir, "cgroup.freeze", frozen ? "1" : "0");
        var want = frozen ? "frozen 1" : "frozen 0";
        for (var i = 0; i < 500; i++)
        {
            if (File.ReadLines(Path.Combine(dir, "cgroup.events")).Any(l => l == want))
            {
                return;
            }
            await Task.Delay(10, ct);
        }
        throw new IOException($"{dir}: still not {(frozen ? "frozen" : "thawed")} after 5 s");
    }

    public void Remove(string containerId)
    {
        try
        {
            Directory.Delete(PathOf(containerId));
        }
        catch (IOException)
        {
            // still has processes (they are being killed) or already gone
        }
    }

    private static void Write(string dir, string file, string value)
    {
        try
        {
            File.WriteAllText(Path.Combine(dir, file), value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // EACCES/EPERM come as UnauthorizedAccessException: the callers' one kind is IOException.
            throw new IOException($"cgroup {file} = {value}: {e.Message}", e);
        }
    }

    private static void TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
