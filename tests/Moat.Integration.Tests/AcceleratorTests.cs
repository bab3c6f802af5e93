using System.Diagnostics;
using System.Text.Json;

namespace Moat.Integration.Tests;

/// <summary>
/// The accelerator on this very host, and VMs that fail the way a broken KVM makes them fail
/// (QEMU's STOP on "KVM internal error", a guest panic), played by a stand-in QEMU
/// (Fakes/fake-qemu.py) that speaks real QMP: the start fails within about a second, says why in
/// QEMU's words, and leaves nothing behind.
/// </summary>
[Collection("vm")]
public sealed class AcceleratorTests
{
    private static readonly string FakeQemuScript = Path.Combine(AppContext.BaseDirectory, "Fakes", "fake-qemu.py");

    /// <summary>A QEMU path that runs the stand-in in <paramref name="mode"/>.</summary>
    private static string FakeQemu(MoatEnv env, string mode)
    {
        var path = Path.Combine(env.Dir, "qemu-" + mode);
        File.WriteAllText(path, $"#!/bin/sh\nexec /usr/bin/python3 {FakeQemuScript} {mode} \"$@\"\n");
        File.SetUnixFileMode(path, (UnixFileMode)0x1ed);
        return path;
    }

    private static string Config(MoatEnv env, string body)
    {
        var path = Path.Combine(env.Dir, "moat-" + Guid.NewGuid().ToString("N")[..6] + ".toml");
        File.WriteAllText(path, body);
        return path;
    }

    /// <summary>Stand-in QEMUs still running from this test's directory.</summary>
    private static List<string> FakesAlive(MoatEnv env) => Directory.EnumerateDirectories("/proc")
        .Select(d => { try { return File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' '); } catch (IOException) { return ""; } })
        .Where(c => c.Contains("fake-qemu.py", StringComparison.Ordinal) && c.Contains(env.Dir, StringComparison.Ordinal)).ToList();

    [Theory]
    [InlineData("internal-error", "QEMU stopped the VM with an internal error (status internal-error)", "KVM internal error. Suberror: 1 / extra data[0]: 0x0000000000000000 / emulation failure")]
    [InlineData("panic", "the guest kernel panicked (QMP GUEST_PANICKED)", null)]
    public async Task AFaultingVmFailsTheStartInAboutASecondWithQemusWords(string mode, string what, string? qemuSaid)
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"]);
        var config = Config(env, $"[hypervisor]\npath = \"{FakeQemu(env, mode)}\"\naccelerator = \"tcg\"\ntemplate = false\n");
        var clock = Stopwatch.StartNew();
        var r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", config);
        clock.Stop();
        Assert.True(r.ExitCode != 0, r.ToString());
        // The fault itself comes ~0.5 s after QEMU starts; moat's own start and tear-down are the rest.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}: {r}");
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("the VM failed before its agent answered: " + what, line);
        if (qemuSaid is not null)
        {
            Assert.Contains($"QEMU said: \"{qemuSaid}\"", line);
        }
        var log = System.Text.RegularExpressions.Regex.Match(line, @"console log: (\S+)").Groups[1].Value;
        Assert.StartsWith("/var/log/moat/", log);
        File.Delete(log);
        Assert.Empty(FakesAlive(env));
    }

    [Fact]
    public async Task ATemplateBootThatFaultsFailsTheStartOnceWithoutASecondWait()
    {
        await using var env = new MoatEnv();
        // A data directory of its own, on the installed guest image, so its templates are its own.
        var data = Path.Combine(env.Dir, "data");
        Directory.CreateDirectory(Path.Combine(data, "guest"));
        var image = (await Cmd.RunAsync("readlink", ["-f", "/var/lib/moat/guest/current"])).Stdout.Trim();
        File.CreateSymbolicLink(Path.Combine(data, "guest", "current"), image);
        var bundle = await env.BundleAsync("b", ["true"]);
        var config = Config(env, $"[hypervisor]\npath = \"{FakeQemu(env, "internal-error")}\"\naccelerator = \"tcg\"\n[runtime]\ndata_dir = \"{data}\"\n");
        var clock = Stopwatch.StartNew();
        var r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", config, "--debug");
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}: {r}");
        Assert.Contains("no VM template: making it failed: the VM failed before its agent answered", r.Stderr);
        Assert.DoesNotContain("VM started", r.Stderr); // no second boot after the template's
        Assert.Single(Directory.GetFiles(Path.Combine(data, "templates"), "*.failed"));
        Assert.Empty(FakesAlive(env));
        foreach (var f in Directory.GetFiles("/var/log/moat", "it-*-console.log"))
        {
            File.Delete(f);
        }
    }

    [Fact]
    public async Task ForcedKvmFailsFastSayingWhyWhereKvmCannotRunTheGuest()
    {
        await using var env = new MoatEnv();
        var check = JsonDocument.Parse((await Cmd.RunAsync(Cmd.Moat, ["check", "--json"])).Stdout).RootElement;
        if (check.GetProperty("uses_kvm").GetBoolean())
        {
            return; // a host whose KVM runs the guest: forcing it is just KVM (the suite runs on it)
        }
        var bundle = await env.BundleAsync("b", ["uname", "-r"]);
        var config = Config(env, "[hypervisor]\naccelerator = \"kvm\"\n");
        var clock = Stopwatch.StartNew();
        var r = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", config);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}: {r}");
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("hypervisor.accelerator is \"kvm\" but ", line);
        Assert.Contains(check.GetProperty("kvm_device").GetBoolean() ? "KVM cannot run the guest on this host: " : "/dev/kvm: ", line);
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public async Task TcgRunsTheGuestAndUnknownAcceleratorsAreRefused()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["uname", "-r"]);
        var tcg = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", Config(env, "[hypervisor]\naccelerator = \"tcg\"\n"));
        Assert.True(tcg.ExitCode == 0, tcg.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), tcg.Stdout.Trim());

        var file = Config(env, "[hypervisor]\naccelerator = \"hvf\"\n");
        var bad = await env.RunAsync(bundle, MoatEnv.Id(), null, null, "--config", file);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal($"moat: {file}: hypervisor.accelerator: unknown accelerator \"hvf\" (use \"auto\", \"kvm\" or \"tcg\")\n", bad.Stderr);

        var env2 = new Dictionary<string, string> { ["MOAT_ACCELERATOR"] = "fast" };
        var badEnv = await env.RunAsync(bundle, MoatEnv.Id(), null, env2);
        Assert.Equal(1, badEnv.ExitCode);
        Assert.Equal("moat: MOAT_ACCELERATOR: unknown accelerator \"fast\" (use \"auto\", \"kvm\" or \"tcg\")\n", badEnv.Stderr);
    }

    [Fact]
    public async Task AHostWithoutKvmRunsUnderTcgAsBefore()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["uname", "-r"]);
        // /dev/kvm masked (when there is one) in a private mount namespace, for check and a run.
        var mask = "[ -e /dev/kvm ] && mount --bind /dev/null /dev/kvm; ";
        var check = await Cmd.RunAsync("unshare", ["--mount", "--propagation", "private", "sh", "-c", mask + $"exec {Cmd.Moat} check --json"]);
        Assert.True(check.ExitCode == 0, check.ToString());
        var json = JsonDocument.Parse(check.Stdout).RootElement;
        Assert.False(json.GetProperty("kvm_device").GetBoolean());
        Assert.Equal("tcg", json.GetProperty("accelerator").GetString());
        Assert.True(json.GetProperty("guest_booted").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("kvm_canary").ValueKind);
        var run = await Cmd.RunAsync("unshare", ["--mount", "--propagation", "private", "sh", "-c",
            mask + $"exec {Cmd.Moat} --root {env.Root} run --bundle {bundle} {MoatEnv.Id()}"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), run.Stdout.Trim());
    }
}
