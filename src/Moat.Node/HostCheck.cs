using System.Diagnostics;
using Moat.Hypervisor;
using Moat.Runtime;

namespace Moat.Node;

/// <summary>One finding of <see cref="HostCheck"/>: Info lines are facts, Warning lines cost speed, Error lines stop Moat.</summary>
public sealed record CheckItem(string Level, string Name, string Detail);

/// <summary>What a canary boot showed, as <c>moat check</c> reports it.</summary>
public sealed record CanaryReport(bool Works, string Reason, long Milliseconds, string Source, DateTime CheckedAt);

/// <summary>Everything <c>moat check</c> reports, and its verdict.</summary>
/// <param name="KvmDevice">/dev/kvm opened and answered KVM_GET_API_VERSION.</param>
/// <param name="KvmVmCreation">KVM_CREATE_VM succeeded.</param>
/// <param name="KvmCanary">The guest booted under KVM (null when not tried: no device, or accelerator = "tcg").</param>
/// <param name="KvmLikelyCause">Why KVM probably failed its canary (kvm_pvm loaded, no vmx/svm flag), when it did.</param>
/// <param name="Accelerator">"kvm" or "tcg": what VM starts will use; null when none can be used.</param>
/// <param name="AcceleratorReason">Why that one (or why none).</param>
/// <param name="GuestBooted">The accelerator VM starts will use has booted the guest on this host.</param>
public sealed record CheckReport(IReadOnlyList<CheckItem> Items, bool Capable, bool CanCreateVms, bool UsesKvm, string Verdict,
    bool KvmDevice, bool KvmVmCreation, CanaryReport? KvmCanary, string? KvmLikelyCause, string? Accelerator, string AcceleratorReason,
    CanaryReport? TcgCanary, bool GuestBooted);

/// <summary>
/// What kata-check checks, for Moat, and then what it does not: the CPU's virtualization flags,
/// the kernel modules, /dev/kvm (opened and KVM_CREATE_VM tried), then a canary boot of the
/// installed guest under the accelerator Moat would use (cached per host boot, see
/// <see cref="AcceleratorSelection"/>), QEMU and its version, the guest kernel and initrd. A KVM
/// that creates VMs but cannot run the guest is reported as such, with QEMU's words.
/// </summary>
public static class HostCheck
{
    private static readonly string[] RequiredCpuFlags = ["lm", "sse4_1"];

    public static async Task<CheckReport> RunAsync(RuntimeOptions options, PhaseLog log, CancellationToken ct, string cpuinfoPath = "/proc/cpuinfo")
    {
        var items = new List<CheckItem>();
        var errors = new List<string>();
        var sweep = Sweep(options); // first: what the canaries below make is live, what gone processes left is not

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
        var pvm = Directory.Exists("/sys/module/kvm_pvm");
        foreach (var m in new[] { "kvm", pvm ? "kvm_pvm" : kvmModule, "vhost", "vhost_net", "vhost_vsock" })
        {
            var loaded = Directory.Exists($"/sys/module/{m}");
            items.Add(new(loaded ? "info" : "warning", $"kernel module {m}", loaded
                ? m == "kvm_pvm" ? "loaded (a paravirtualized nested KVM, not hardware virtualization)" : "loaded"
                : $"not loaded (modprobe {m})"));
        }

        var probe = AcceleratorProbe.Probe(options.KvmDevice);
        var device = probe.ApiVersion is not null;
        var creation = probe.Accel == Accel.Kvm;
        items.Add(new(device ? "info" : "warning", "KVM device", device ? $"{options.KvmDevice} opened (KVM API version {probe.ApiVersion})" : probe.Reason));
        if (device)
        {
            items.Add(new(creation ? "info" : "warning", "KVM VM creation", creation ? "KVM_CREATE_VM succeeded" : probe.Reason));
        }

        var qemu = File.Exists(options.QemuBinary);
        if (qemu)
        {
            items.Add(new("info", "QEMU", $"{options.QemuBinary} ({QemuVersion(options.QemuBinary)})"));
        }
        else
        {
            items.Add(new("error", "QEMU", $"{options.QemuBinary} is missing: apt-get install qemu-system-x86"));
            errors.Add("QEMU is missing");
        }

        (string Kernel, string Initrd, string? ModulesDisk)? image = null;
        try
        {
            image = GuestImagePaths.Resolve(options);
            items.Add(new("info", "guest kernel", image.Value.Kernel));
            items.Add(new("info", "guest initrd", image.Value.Initrd));
            items.Add(image.Value.ModulesDisk is { } modules
                ? new("info", "guest modules", $"{modules} (loaded on demand)")
                : new("warning", "guest modules", "no modules disk: only the image's boot modules are there; run 'moat image build' to build one"));
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

        CanaryReport? kvmCanary = null, tcgCanary = null;
        string? likelyCause = null;
        string? accelerator = null;
        var reason = "no guest image or QEMU to boot";
        if (image is { } img && qemu)
        {
            var selection = QemuAcceleratorHost.Selection(options, img.Kernel, img.Initrd, log);
            var key = AcceleratorVerdicts.Key(options, img.Kernel, img.Initrd);
            if (creation && options.Accelerator != AcceleratorChoice.Tcg)
            {
                kvmCanary = Report(await selection.VerdictAsync(Accel.Kvm, key, ct).ConfigureAwait(false));
                items.Add(new(kvmCanary.Works ? "info" : "warning", "KVM canary", kvmCanary.Works
                    ? $"the guest booted under KVM ({kvmCanary.Reason})"
                    : $"the guest did not boot under KVM: {kvmCanary.Reason}"));
                if (!kvmCanary.Works)
                {
                    likelyCause = pvm ? "kvm_pvm is loaded: this host's KVM is a paravirtualized nested one that cannot run the guest kernel"
                        : !hasVirt ? $"the CPU has no {virtFlag} flag: KVM here is not hardware virtualization"
                        : null;
                    if (likelyCause is not null)
                    {
                        items.Add(new("warning", "KVM likely cause", likelyCause));
                    }
                }
            }
            try
            {
                var decision = await selection.DecideAsync(ct).ConfigureAwait(false);
                accelerator = decision.Accel == Accel.Kvm ? "kvm" : "tcg";
                reason = decision.Reason;
                if (decision.Accel == Accel.Tcg)
                {
                    tcgCanary = Report(await selection.VerdictAsync(Accel.Tcg, key, ct).ConfigureAwait(false));
                    items.Add(new(tcgCanary.Works ? "info" : "error", "TCG canary", tcgCanary.Works
                        ? $"the guest booted under software emulation ({tcgCanary.Reason})"
                        : $"the guest did not boot under software emulation: {tcgCanary.Reason}"));
                    if (!tcgCanary.Works)
                    {
                        errors.Add("the guest does not boot");
                    }
                }
                items.Add(new(decision.Accel == Accel.Kvm ? "info" : "warning", "accelerator", decision.Accel == Accel.Kvm
                    ? $"KVM ({options.Accelerator.Name()}): {decision.Reason}"
                    : $"TCG, software emulation ({options.Accelerator.Name()}): {decision.Reason}; each VM boots in seconds rather than a fraction of one, and guest code runs several times slower"));
            }
            catch (RuntimeException e)
            {
                reason = e.Message;
                items.Add(new("error", "accelerator", e.Message));
                errors.Add("the configured accelerator cannot run the guest");
            }
        }

        var saved = new VmTemplates(options.TemplateDir).Saved().Count();
        items.Add(new("info", "VM templates", options.Templates
            ? $"on: {saved} saved under {options.TemplateDir} (the first VM of a new shape makes one)"
            : "off (hypervisor.template = false): every VM boots its kernel"));

        items.Add(PortForwarding());
        items.Add(sweep);

        var usesKvm = accelerator == "kvm";
        var booted = usesKvm ? kvmCanary?.Works == true : tcgCanary?.Works == true;
        var capable = !errors.Contains("the CPU lacks lm") && !errors.Contains("the CPU lacks sse4_1");
        var canCreate = errors.Count == 0 && booted;
        var verdict = canCreate
            ? usesKvm ? "System is capable of running Moat\nSystem can currently create Moat VMs"
                      : "System is capable of running Moat (with software emulation)\nSystem can currently create Moat VMs (with software emulation: slow)"
            : $"System cannot currently create Moat VMs: {(errors.Count > 0 ? string.Join("; ", errors) : reason)}";
        return new CheckReport(items, capable, canCreate, usesKvm, verdict, device, creation, kvmCanary, likelyCause, accelerator, reason, tcgCanary, booted);
    }

    /// <summary>Pods' port forwarding needs iptables (a NAT rule in each pod's network namespace); without it pods run, unforwarded.</summary>
    private static CheckItem PortForwarding()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':')
            .Select(d => Path.Combine(d, "iptables")).FirstOrDefault(File.Exists);
        return found is not null
            ? new("info", "port forwarding", $"{found} (kubectl port-forward into pods)")
            : new("warning", "port forwarding", "iptables is missing: pods run, but kubectl port-forward into them fails (apt-get install iptables)");
    }

    private static CheckItem Sweep(RuntimeOptions options)
    {
        try
        {
            var swept = NodeSweep.Run(options);
            return swept.Count == 0
                ? new("info", "stale state", "none: nothing left by processes that are gone")
                : new("warning", "stale state", $"swept {swept.Count} left by processes that are gone (killed, or a host reboot): {string.Join(", ", swept)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new("warning", "stale state", $"not swept: {e.Message} (run moat check as root)");
        }
    }

    private static CanaryReport Report(AcceleratorVerdict v) => new(v.Works, v.Reason, v.Milliseconds, v.Source, v.CheckedAt);

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

/// <summary><c>moat check --json</c>: the report as written, and as the node installer reads it back.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(CheckReport))]
public sealed partial class CheckJson : System.Text.Json.Serialization.JsonSerializerContext;
