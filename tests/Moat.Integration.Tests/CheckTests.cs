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
        foreach (var m in new[] { "kvm", vendor == "AuthenticAMD" ? "kvm_amd" : "kvm_intel", "vhost", "vhost_net", "vhost_vsock" })
        {
            if (!Directory.Exists($"/sys/module/{m}"))
            {
                expected.Add($"WARNING: kernel module {m}: not loaded (modprobe {m})");
            }
        }
        var kvm = File.Exists("/dev/kvm");
        if (!kvm)
        {
            expected.Add("WARNING: KVM: /dev/kvm: No such file or directory");
            expected.Add("WARNING: software emulation: Moat will run its VMs under QEMU's TCG: each VM boots in seconds rather than a fraction of one, and guest code runs several times slower");
            expected.Add("System is capable of running Moat (with software emulation)");
            expected.Add("System can currently create Moat VMs (with software emulation: slow)");
        }
        var r = await Cmd.RunAsync(Cmd.Moat, ["check"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        if (kvm)
        {
            Assert.EndsWith("System is capable of running Moat\nSystem can currently create Moat VMs\n", r.Stdout);
            return; // /dev/kvm present: which warnings remain depends on its permissions
        }
        Assert.Equal(string.Join('\n', expected) + "\n", r.Stdout);

        var verbose = await Cmd.RunAsync(Cmd.Moat, ["kata-check", "--verbose"]);
        Assert.Contains($"INFO: CPU vendor: {vendor}\n", verbose.Stdout);
        Assert.Matches(@"INFO: QEMU: /usr/bin/qemu-system-x86_64 \(QEMU emulator version \d+\.\d+", verbose.Stdout);
        Assert.Contains("INFO: guest kernel: /var/lib/moat/guest/", verbose.Stdout);

        var json = System.Text.Json.JsonDocument.Parse((await Cmd.RunAsync(Cmd.Moat, ["check", "--json"])).Stdout).RootElement;
        Assert.True(json.GetProperty("can_create_vms").GetBoolean());
        Assert.False(json.GetProperty("uses_kvm").GetBoolean());
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
