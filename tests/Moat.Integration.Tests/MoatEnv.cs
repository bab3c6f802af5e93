using System.Text.Json.Nodes;

namespace Moat.Integration.Tests;

/// <summary>
/// A private state root and bundles under a temp directory for one test; on dispose it checks
/// that Moat left nothing behind (no QEMU, no mount, no socket, no state directory).
/// </summary>
public sealed class MoatEnv : IAsyncDisposable
{
    public MoatEnv()
    {
        Dir = Directory.CreateTempSubdirectory("moat-it-").FullName;
        Root = Path.Combine(Dir, "root");
        _socketsBefore = Leftovers.Sockets();
        if (!File.Exists(Cmd.Moat))
        {
            throw new InvalidOperationException($"{Cmd.Moat} is not installed: run scripts/setup.sh first (or set MOAT_BIN)");
        }
    }

    private readonly HashSet<string> _socketsBefore;

    public string Dir { get; }
    public string Root { get; }

    /// <summary>A busybox bundle running <paramref name="args"/>; <paramref name="edit"/> may change config.json.</summary>
    public async Task<string> BundleAsync(string name, string[] args, Action<JsonObject>? edit = null)
    {
        var bundle = Path.Combine(Dir, name);
        var r = await Cmd.RunAsync(Cmd.Moat, ["image", "busybox", bundle, .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        if (edit is not null)
        {
            var path = Path.Combine(bundle, "config.json");
            var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            edit(json);
            File.WriteAllText(path, json.ToJsonString());
        }
        return bundle;
    }

    public Task<CmdResult> RunAsync(string bundle, string id, string? stdin = null, IDictionary<string, string>? env = null, params string[] globalArgs) =>
        Cmd.RunAsync(Cmd.Moat, ["--root", Root, .. globalArgs, "run", "--bundle", bundle, id], stdin, env);

    public static string Id() => "it-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>What Moat left under this root, plus Moat sockets that appeared since the test began.</summary>
    public List<string> Remaining() => Leftovers.Find(Root, _socketsBefore);

    public void AssertNothingLeft()
    {
        var leftovers = Leftovers.Find(Root, _socketsBefore);
        Assert.True(leftovers.Count == 0, "left behind: " + string.Join("; ", leftovers));
    }

    public async ValueTask DisposeAsync()
    {
        // A failed test may still be tearing down: give it a moment before judging.
        for (var i = 0; i < 50 && Leftovers.Find(Root, _socketsBefore).Count > 0; i++)
        {
            await Task.Delay(100);
        }
        var left = Leftovers.Find(Root, _socketsBefore);
        if (left.Count > 0)
        {
            // Fail this test, but do not let its debris fail every test after it.
            await Leftovers.ReapAsync(Root);
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }
}

public static class Leftovers
{
    /// <summary>
    /// Kills every QEMU started by Moat and every shim, then lazily unmounts and removes what
    /// remains under <paramref name="root"/>: run after a failed leftover check only.
    /// </summary>
    public static async Task ReapAsync(string root, params string[] mountPrefixes)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if ((cmdline.Contains("qemu-system", StringComparison.Ordinal) && cmdline.Contains("moat/", StringComparison.Ordinal))
                    || cmdline.StartsWith("/usr/local/lib/moat/containerd-shim-moat-v2", StringComparison.Ordinal))
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
        await Task.Delay(500);
        var mounts = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4])
            .Where(m => m.Contains(root, StringComparison.Ordinal) || mountPrefixes.Any(p => m.StartsWith(p, StringComparison.Ordinal)))
            .OrderByDescending(m => m.Length).ToList();
        foreach (var m in mounts)
        {
            await Cmd.RunAsync("umount", ["-l", m]);
        }
        try
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>QEMU processes, mounts, abstract sockets and state directories that belong to a state root.</summary>
    public static List<string> Find(string root, IReadOnlySet<string>? socketsBefore = null)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(root, StringComparison.Ordinal) && cmdline.Contains("qemu-system", StringComparison.Ordinal))
                {
                    found.Add($"qemu pid {pid}");
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            if (line.Contains(root, StringComparison.Ordinal))
            {
                found.Add("mount " + line.Split(' ')[4]);
            }
        }
        if (Directory.Exists(root))
        {
            foreach (var d in Directory.EnumerateFileSystemEntries(root))
            {
                found.Add("state " + d);
            }
        }
        // Abstract sockets are global: those that were there before the test are not its own.
        found.AddRange(Sockets().Where(s => socketsBefore?.Contains(s) != true).Select(s => "socket " + s));
        return found;
    }

    /// <summary>Running containerd-shim-moat-v2 processes, as "shim /proc/PID".</summary>
    public static IEnumerable<string> ShimProcesses() =>
        Processes("shim", cmdline => cmdline.StartsWith("/usr/local/lib/moat/containerd-shim-moat-v2", StringComparison.Ordinal));

    /// <summary>SIGKILLs the one running shim (a fault the tests inject); there must be exactly one.</summary>
    public static void KillTheOnlyShim()
    {
        var shims = ShimProcesses().ToList();
        Assert.True(shims.Count == 1, "expected one shim: " + string.Join("; ", shims));
        System.Diagnostics.Process.GetProcessById(int.Parse(shims[0].Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).Kill();
    }

    /// <summary>SIGKILLs the one QEMU whose command line names <paramref name="marker"/> (a fault the tests inject); there must be exactly one.</summary>
    public static void KillQemuNaming(string marker)
    {
        var qemu = Processes("qemu", c => c.Contains("qemu-system", StringComparison.Ordinal) && c.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.True(qemu.Count == 1, $"expected one QEMU naming {marker}: " + string.Join("; ", qemu));
        System.Diagnostics.Process.GetProcessById(int.Parse(qemu[0].Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).Kill();
    }

    /// <summary>Running relays of moat's runc-compatible verbs (the pid-file processes), as "relay /proc/PID".</summary>
    public static IEnumerable<string> RelayProcesses() => Processes("relay", cmdline => cmdline.Contains("__relay", StringComparison.Ordinal));

    /// <summary>Processes whose command line (NUL-separated) matches, as "LABEL /proc/PID".</summary>
    public static IEnumerable<string> Processes(string label, Func<string, bool> match) =>
        Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)).Where(d =>
        {
            try
            {
                return match(File.ReadAllText(Path.Combine(d, "cmdline")));
            }
            catch (IOException)
            {
                return false;
            }
        }).Select(d => label + " " + d);

    /// <summary>Moat's VM sockets (QMP and agent) that exist now: files in the node's VM socket directories (and abstract names, as older versions made).</summary>
    public static HashSet<string> Sockets() =>
        File.ReadLines("/proc/net/unix").Where(l => l.Contains("@moat/", StringComparison.Ordinal) || l.Contains("/moat-node/vm/", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last()).ToHashSet();
}
