using System.Text.Json.Nodes;
using Moat.Integration.Tests.Cli;

namespace Moat.Integration.Tests;

/// <summary>
/// The host boundary against a hostile guest and a hostile local user: the guest is played by a
/// privileged container that shares the guest's PID namespace, so it reaches the agent's own view
/// of the share (<c>/proc/1/root/run/moat/shared</c>), as a container that escaped to guest root
/// would; the local user is uid 65534.
/// </summary>
[Collection("vm")]
public sealed class HostBoundaryTests
{
    private static string Id(string what) => what + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Every capability, no masked /proc, no PID namespace of its own: as good as guest root.</summary>
    private static void GuestRoot(JsonObject cfg)
    {
        var all = new JsonArray(global::Moat.Linux.Capabilities.All.Select(c => (JsonNode)c).ToArray());
        var caps = new JsonObject();
        foreach (var set in new[] { "bounding", "effective", "permitted" })
        {
            caps[set] = all.DeepClone();
        }
        cfg["process"]!["capabilities"] = caps;
        var linux = cfg["linux"]!.AsObject();
        linux.Remove("maskedPaths");
        linux.Remove("readonlyPaths");
        var namespaces = linux["namespaces"]!.AsArray();
        foreach (var ns in namespaces.Where(n => (string?)n!["type"] == "pid").ToList())
        {
            namespaces.Remove(ns);
        }
    }

    private static void Group(JsonObject cfg, string group)
    {
        var annotations = cfg["annotations"] as JsonObject ?? new JsonObject();
        annotations["io.containerd.runc.v2.group"] = group;
        cfg["annotations"] = annotations;
    }

    [Fact]
    public async Task PlantedLinksInTheShareLeadNowhereOnTheHost()
    {
        await using var env = new CliEnv();
        var group = Id("g");
        var victim = Path.Combine(env.Dir, "victim");
        Directory.CreateDirectory(victim);
        var victimFile = Path.Combine(env.Dir, "victim-file");
        File.WriteAllText(victimFile, "precious");
        var (a, b) = (Id("a"), Id("b"));
        // The hostile one plants, in the agent's view of the share, links where the host will
        // create the next container's mountpoints: its directory, and a file mountpoint.
        var hostile = await env.BundleAsync("a", ["sh", "-c",
            $"s=/proc/1/root/run/moat/shared; ln -s {victim} $s/{b} && echo planted; while true; do sleep 1; done"], cfg =>
        {
            GuestRoot(cfg);
            Group(cfg, group);
        });
        var next = await env.BundleAsync("b", ["true"], cfg => Group(cfg, group));
        var r = await env.MoatAsync("run", "--detach", "--bundle", hostile, a);
        Assert.True(r.ExitCode == 0, r.ToString());
        await WaitForFileTextAsync(env, a, "planted");

        r = await env.MoatAsync("create", "--bundle", next, b);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Empty(Directory.EnumerateFileSystemEntries(victim)); // no rootfs made there, nothing mounted on it
        Assert.Equal("precious", File.ReadAllText(victimFile));

        // The pod's first container is unharmed.
        Assert.Equal("running", (string?)(await env.StateAsync(a))["status"]);
        Assert.Equal(0, (await env.MoatAsync("delete", "--force", a)).ExitCode);
        await env.MoatAsync("delete", "--force", b);
    }

    /// <summary>Waits for the detached container <paramref name="id"/> to have printed <paramref name="text"/> (read through exec of its own log is not possible: poll with exec).</summary>
    private static async Task WaitForFileTextAsync(CliEnv env, string id, string text)
    {
        for (var i = 0; i < 100; i++)
        {
            var r = await env.MoatAsync("exec", id, "sh", "-c", "ls /proc/1/root/run/moat/shared");
            if (r.ExitCode == 0 && r.Stdout.Split('\n').Any(l => l.StartsWith("b-", StringComparison.Ordinal)))
            {
                return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"{id} never printed {text}");
    }

    [Fact]
    public async Task ReadOnlyMeansReadOnlyAllTheWayDown()
    {
        await using var env = new MoatEnv();
        var vol = Path.Combine(env.Dir, "vol");
        Directory.CreateDirectory(Path.Combine(vol, "sub"));
        var mount = await Cmd.RunAsync("mount", ["-t", "tmpfs", "-o", "size=1m", "moat-test-sub", Path.Combine(vol, "sub")]);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        try
        {
            var bundle = await env.BundleAsync("b", ["sh", "-c",
                "mount -o remount,rw /vol; mount -o remount,rw /vol/sub; touch /vol/top /vol/sub/below; echo tried"], cfg =>
            {
                GuestRoot(cfg);
                cfg["mounts"]!.AsArray().Add(new JsonObject
                {
                    ["destination"] = "/vol",
                    ["type"] = "bind",
                    ["source"] = vol,
                    ["options"] = new JsonArray("rbind", "ro"),
                });
            });
            var r = await env.RunAsync(bundle, MoatEnv.Id());
            Assert.Contains("tried", r.Stdout);
            Assert.False(File.Exists(Path.Combine(vol, "top")), r.ToString());
            Assert.False(File.Exists(Path.Combine(vol, "sub", "below")), "the submount of a read-only volume was written: " + r);
        }
        finally
        {
            await Cmd.RunAsync("umount", ["-l", Path.Combine(vol, "sub")]);
        }
    }

    [Fact]
    public async Task TheGuestMakesNoDeviceNodeSetIdFileOrFileCapabilityOnTheHost()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c",
            "mknod /node c 1 3; echo mknod=$?; " +
            "cp /bin/busybox /suid; chmod 4755 /suid; echo chmod=$?; chmod 2755 /suid; " +
            "mkdir /sgid-dir; chmod 2775 /sgid-dir; " +
            "s=/proc/1/root/run/moat/shared; mknod $s/node2 b 7 0; echo share-mknod=$?; ls -l /suid"], GuestRoot);
        var rootfs = Path.Combine(bundle, "rootfs");
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.Contains("mknod=1", r.Stdout);
        Assert.Contains("chmod=1", r.Stdout);
        Assert.Contains("share-mknod=1", r.Stdout);
        Assert.False(File.Exists(Path.Combine(rootfs, "node")), r.ToString());
        var suid = File.GetUnixFileMode(Path.Combine(rootfs, "suid"));
        Assert.False(suid.HasFlag(UnixFileMode.SetUser) || suid.HasFlag(UnixFileMode.SetGroup), $"{suid}: {r}");
        Assert.False(File.GetUnixFileMode(Path.Combine(rootfs, "sgid-dir")).HasFlag(UnixFileMode.SetGroup), r.ToString());
    }

    [Fact]
    public async Task QemuRunsConfinedAndNoMoatSocketAcceptsAnotherUser()
    {
        await using var env = new CliEnv();
        var id = Id("sock");
        var bundle = await env.BundleAsync("b", ["sleep", "300"]);
        var qemusBefore = QemuPids();
        var r = await env.MoatAsync("run", "--detach", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            var moatPids = Leftovers.Processes("", c => c.Contains("moat", StringComparison.Ordinal) || c.StartsWith("/usr/bin/qemu-system", StringComparison.Ordinal))
                .Select(p => int.Parse(p.Trim().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var qemu = Assert.Single(QemuPids().Except(qemusBefore));

            // QEMU: its own seccomp filter and ours, no_new_privs, only the capabilities 9p needs, no network.
            var status = File.ReadAllLines($"/proc/{qemu}/status").Select(l => l.Split(':', 2)).ToDictionary(f => f[0], f => f[1].Trim());
            Assert.Equal("2", status["Seccomp"]);
            Assert.Equal("1", status["NoNewPrivs"]);
            var kept = global::Moat.Linux.Capabilities.Mask(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"]);
            Assert.Equal(kept.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), status["CapBnd"]);
            Assert.Equal(kept.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), status["CapEff"]);
            Assert.NotEqual(File.ResolveLinkTarget("/proc/self/ns/net", false)!.FullName, File.ResolveLinkTarget($"/proc/{qemu}/ns/net", false)!.FullName);
            Assert.Contains("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", File.ReadAllText($"/proc/{qemu}/cmdline"));

            // Every listening socket of Moat's processes (shim, QEMU, relay): none lets uid 65534 in.
            // (each process's own /proc/PID/net/unix: QEMU lives in a network namespace of its own)
            var listening = moatPids.SelectMany(pid =>
            {
                var inodes = SocketInodes(pid).ToHashSet();
                try
                {
                    return File.ReadLines($"/proc/{pid}/net/unix").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        .Where(f => f.Length >= 8 && inodes.Contains(f[6]) && (Convert.ToInt32(f[3], 16) & 0x10000) != 0)
                        .Select(f => f[7]).ToList();
                }
                catch (IOException)
                {
                    return [];
                }
            }).Distinct().ToList();
            Assert.Contains(listening, s => s.EndsWith("/qmp.sock", StringComparison.Ordinal));
            Assert.Contains(listening, s => s.EndsWith("/agent.sock", StringComparison.Ordinal));
            foreach (var socket in listening)
            {
                var attempt = await Cmd.RunAsync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c",
                    "import socket,sys\np=sys.argv[1]\ns=socket.socket(socket.AF_UNIX)\ns.connect('\\0'+p[1:] if p.startswith('@') else p)\nprint('connected')", socket]);
                Assert.True(attempt.ExitCode != 0 && !attempt.Stdout.Contains("connected", StringComparison.Ordinal), $"uid 65534 connected to {socket}: {attempt}");
            }
        }
        finally
        {
            await env.MoatAsync("delete", "--force", id);
        }
    }

    private static HashSet<int> QemuPids() => Leftovers.Processes("", c => c.StartsWith("/usr/bin/qemu-system", StringComparison.Ordinal))
        .Select(p => int.Parse(p.Trim().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();

    private static IEnumerable<string> SocketInodes(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Select(fd => { try { return new FileInfo(fd).LinkTarget ?? ""; } catch (IOException) { return ""; } })
                .Where(t => t.StartsWith("socket:[", StringComparison.Ordinal))
                .Select(t => t["socket:[".Length..^1]).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
