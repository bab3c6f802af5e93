using System.Diagnostics;
using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>One finding of <see cref="HostCheck"/>: Info lines are facts, Warning lines cost speed, Error lines stop Moat.</summary>
public sealed record CheckItem(string Level, string Name, string Detail);

/// <summary>Everything <c>moat check</c> reports, and its verdict.</summary>
public sealed record CheckReport(IReadOnlyList<CheckItem> Items, bool Capable, bool CanCreateVms, bool UsesKvm, string Verdict);

/// <summary>
/// What kata-check checks, for Moat: the CPU's virtualization flags, the kernel modules, /dev/kvm
/// (opened and KVM_CREATE_VM tried), QEMU and its version, the guest kernel and initrd.
/// Without KVM, Moat still runs, under software emulation.
/// </summary>
public static class HostCheck
{
    private static readonly string[] RequiredCpuFlags = ["lm", "sse4_1"];

    public static CheckReport Run(RuntimeOptions options, string cpuinfoPath = "/proc/cpuinfo", string devKvm = "/dev/kvm")
    {
        var items = new List<CheckItem>();
        var errors = new List<string>();

        var (vendor, flags) = ReadCpu(cpuinfoPath);
        items.Add(new("info", "CPU vendor", vendor));
        var virtFlag = vendor == "AuthenticAMD" ? "svm" : "vmx";
        var hasVirt = flags.Contains(virtFlag);
        items.Add(new(hasVirt ? "info" : "warning", $"CPU property {virtFlag}", hasVirt ? "yes" : $"no: this CPU (or this VM's virtual CPU) offers no hardware virtualization"));
        foreach (var f in RequiredCpuFlags)
        {
            var has = flags.Contains(f);
            items.Add(new(has ? "info" : "error", $"CPU property {f}", has ? "yes" : "no"));
            if (!has)
            {
                errors.Add($"the CPU lacks {f}");
            }
        }

        var kvmModule = vendor == "AuthenticAMD" ? "kvm_amd" : "kvm_intel";
        foreach (var m in new[] { "kvm", kvmModule, "vhost", "vhost_net", "vhost_vsock" })
        {
            var loaded = Directory.Exists($"/sys/module/{m}");
            items.Add(new(loaded ? "info" : "warning", $"kernel module {m}", loaded ? "loaded" : $"not loaded (modprobe {m})"));
        }

        var probe = AcceleratorProbe.Probe(devKvm);
        var kvm = probe.Accel == Accel.Kvm;
        items.Add(new(kvm ? "info" : "warning", "KVM", kvm ? $"{devKvm} opened and KVM_CREATE_VM succeeded" : probe.Reason ?? "unavailable"));
        if (!kvm)
        {
            items.Add(new("warning", "software emulation",
                "Moat will run its VMs under QEMU's TCG: each VM boots in seconds rather than a fraction of one, and guest code runs several times slower"));
        }

        if (File.Exists(options.QemuBinary))
        {
            items.Add(new("info", "QEMU", $"{options.QemuBinary} ({QemuVersion(options.QemuBinary)})"));
        }
        else
        {
            items.Add(new("error", "QEMU", $"{options.QemuBinary} is missing: apt-get install qemu-system-x86"));
            errors.Add("QEMU is missing");
        }

        try
        {
            var (kernel, initrd) = GuestImagePaths.Resolve(options);
            items.Add(new("info", "guest kernel", kernel));
            items.Add(new("info", "guest initrd", initrd));
        }
        catch (RuntimeException e) when (e.Kind == RuntimeErrorKind.MissingDependency && !e.Message.StartsWith("QEMU", StringComparison.Ordinal))
        {
            items.Add(new("error", "guest image", e.Message));
            errors.Add("the guest image is missing");
        }
        catch (RuntimeException)
        {
            // QEMU missing: reported above
        }

        var saved = new VmTemplates(options.TemplateDir).Saved().Count();
        items.Add(new("info", "VM templates", options.Templates
            ? $"on: {saved} saved under {options.TemplateDir} (the first VM of a new shape makes one)"
            : "off (hypervisor.template = false): every VM boots its kernel"));

        var capable = !errors.Contains("the CPU lacks lm") && !errors.Contains("the CPU lacks sse4_1");
        var canCreate = errors.Count == 0;
        var verdict = canCreate
            ? kvm ? "System is capable of running Moat\nSystem can currently create Moat VMs"
                  : "System is capable of running Moat (with software emulation)\nSystem can currently create Moat VMs (with software emulation: slow)"
            : $"System cannot currently create Moat VMs: {string.Join("; ", errors)}";
        return new CheckReport(items, capable, canCreate, kvm, verdict);
    }

    private static (string Vendor, HashSet<string> Flags) ReadCpu(string cpuinfoPath)
    {
        string vendor = "unknown";
        var flags = new HashSet<string>();
        foreach (var line in File.ReadLines(cpuinfoPath))
        {
            var colon = line.IndexOf(':');
            if (colon < 0)
            {
                if (flags.Count > 0)
                {
                    break; // first CPU only
                }
                continue;
            }
            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (key == "vendor_id")
            {
                vendor = value;
            }
            else if (key == "flags")
            {
                flags = value.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            }
        }
        return (vendor, flags);
    }

    private static string QemuVersion(string binary)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(binary, "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
            var first = p.StandardOutput.ReadLine() ?? "";
            p.WaitForExit();
            return first.Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return "cannot run: " + e.Message;
        }
    }
}
