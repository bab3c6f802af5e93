namespace Moat.Integration.Tests;

/// <summary><c>moat check</c> on this very machine: its output, line for line, from the facts it reports.</summary>
public sealed class CheckTests
{
    private static (string Vendor, HashSet<string> Flags) Cpu()
    {
        var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToList();
        var vendor = lines.First(l => l.StartsWith("vendor_id", StringComparison.Ordinal)).Split(':')[1].Trim();
        var flags = lines.First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        return (vendor, flags);
    }

    /// <summary>
    /// After a host reboot or a SIGKILL: what gone processes left under a node directory and a data
    /// directory that outlived them is swept by <c>moat check</c>, which says what it removed.
    /// </summary>
    [Fact]
    public async Task CheckSweepsWhatGoneProcessesLeftAndSaysWhat()
    {
        var dir = Directory.CreateTempSubdirectory("moat-check-sweep-").FullName;
        try
        {
            var node = Path.Combine(dir, "node");
            var data = Path.Combine(dir, "data");
            var sandbox = Directory.CreateDirectory(Path.Combine(node, "containerd", "k8s.io", "pod1")).FullName;
            File.WriteAllText(Path.Combine(sandbox, "owner"), "4194305 12345"); // a pid beyond pid_max: nobody
            var unfinished = Directory.CreateDirectory(Path.Combine(data, "templates", "0123456789abcdef01234567.new")).FullName;
            var env = new Dictionary<string, string> { ["MOAT_NODE_DIR"] = node };

            var r = await Cmd.RunAsync(Cmd.Moat, ["--data-dir", data, "check"], env: env);
            Assert.Contains($"WARNING: stale state: swept 2 left by processes that are gone (killed, or a host reboot): {sandbox}, {unfinished}", r.Stdout);
            Assert.False(Directory.Exists(sandbox));
            Assert.False(Directory.Exists(unfinished));
            r = await Cmd.RunAsync(Cmd.Moat, ["--data-dir", data, "check", "--verbose"], env: env);
            Assert.Contains("INFO: stale state: none: nothing left by processes that are gone", r.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task OutputIsExactForThisMachine()
    {
        var (vendor, flags) = Cpu();
        var expected = new List<string>();
        var virt = vendor == "AuthenticAMD" ? "svm" : "vmx";
        if (!flags.Contains(virt))
        {
            expected.Add($"WARNING: CPU property {virt}: no: this CPU (or this VM's virtual CPU) offers no hardware virtualization");
        }
        var pvm = Directory.Exists("/sys/module/kvm_pvm");
        foreach (var m in new[] { "kvm", pvm ? "kvm_pvm" : vendor == "AuthenticAMD" ? "kvm_amd" : "kvm_intel", "vhost", "vhost_net", "vhost_vsock" })
        {
            if (!Directory.Exists($"/sys/module/{m}"))
            {
                expected.Add($"WARNING: kernel module {m}: not loaded (modprobe {m})");
            }
        }
        var json = System.Text.Json.JsonDocument.Parse((await Cmd.RunAsync(Cmd.Moat, ["check", "--json"])).Stdout).RootElement;
        var r = await Cmd.RunAsync(Cmd.Moat, ["check"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal(expected, lines.Take(expected.Count));

        // The accelerator Moat uses has booted the guest here, whichever it is.
        Assert.True(json.GetProperty("can_create_vms").GetBoolean());
        Assert.True(json.GetProperty("guest_booted").GetBoolean());
        var kvm = json.GetProperty("uses_kvm").GetBoolean();
        Assert.Equal(kvm ? "kvm" : "tcg", json.GetProperty("accelerator").GetString());
        Assert.EndsWith(kvm
            ? "System is capable of running Moat\nSystem can currently create Moat VMs\n"
            : "System is capable of running Moat (with software emulation)\nSystem can currently create Moat VMs (with software emulation: slow)\n", r.Stdout);
        if (!File.Exists("/dev/kvm"))
        {
            Assert.Contains("WARNING: KVM device: /dev/kvm: No such file or directory", lines);
            Assert.False(json.GetProperty("kvm_device").GetBoolean());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("kvm_canary").ValueKind);
            Assert.Equal("/dev/kvm: No such file or directory", json.GetProperty("accelerator_reason").GetString());
        }
        else if (json.GetProperty("kvm_vm_creation").GetBoolean() && !kvm)
        {
            // A KVM that opens and creates VMs but cannot run the guest (this project's CI host):
            // named unusable, with QEMU's words, and the likely cause when it is known.
            var canary = json.GetProperty("kvm_canary");
            Assert.False(canary.GetProperty("works").GetBoolean());
            var line = Assert.Single(lines, l => l.StartsWith("WARNING: KVM canary: the guest did not boot under KVM: ", StringComparison.Ordinal));
            Assert.Contains(canary.GetProperty("reason").GetString()!, line);
            Assert.StartsWith("KVM cannot run the guest here: ", json.GetProperty("accelerator_reason").GetString());
            Assert.Contains(lines, l => l.StartsWith("WARNING: accelerator: TCG, software emulation (auto): KVM cannot run the guest here: ", StringComparison.Ordinal));
            if (pvm)
            {
                Assert.Contains("kvm_pvm", json.GetProperty("kvm_likely_cause").GetString());
            }
        }
        if (!kvm)
        {
            Assert.True(json.GetProperty("tcg_canary").GetProperty("works").GetBoolean());
        }

        var verbose = await Cmd.RunAsync(Cmd.Moat, ["kata-check", "--verbose"]);
        Assert.Contains($"INFO: CPU vendor: {vendor}\n", verbose.Stdout);
        Assert.Matches(@"INFO: QEMU: /usr/bin/qemu-system-x86_64 \(QEMU emulator version \d+\.\d+", verbose.Stdout);
        Assert.Contains("INFO: guest kernel: /var/lib/moat/guest/", verbose.Stdout);
        Assert.Contains(kvm ? "INFO: accelerator: KVM (auto): KVM ran this guest" : "WARNING: accelerator: TCG, software emulation (auto): ", verbose.Stdout);
    }

    [Fact]
    public async Task MissingQemuIsAnErrorWithTheFix()
    {
        var dir = Directory.CreateTempSubdirectory("moat-check-").FullName;
        try
        {
            var cfg = Path.Combine(dir, "moat.toml");
            File.WriteAllText(cfg, "[hypervisor]\npath = \"/nonexistent/qemu\"\n");
            var r = await Cmd.RunAsync(Cmd.Moat, ["--config", cfg, "check"]);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("ERROR: QEMU: /nonexistent/qemu is missing: apt-get install qemu-system-x86\n", r.Stdout);
            Assert.EndsWith("System cannot currently create Moat VMs: QEMU is missing\n", r.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
