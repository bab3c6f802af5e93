using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Moat.Oci.Internal;
using static Moat.Oci.Internal.FieldPath;

namespace Moat.Oci;

/// <summary>
/// Checks a <see cref="Spec"/> against runtime-spec 1.1.0 (prose and JSON schema) and against what Moat can honour.
/// </summary>
public static partial class SpecValidator
{
    internal const string UserNamespaceMessage = "user namespaces are not supported inside the Moat guest; remove the user namespace";
    internal const string SeccompNotifyMessage =
        "SCMP_ACT_NOTIFY is not supported by Moat: the calls would go to a seccomp agent on the host, which cannot reach into the VM; use another action";

    internal const string SeccompListenerMessage =
        "seccomp notify listeners are not supported by Moat: the guest's filter cannot hand calls to a host process; remove linux.seccomp.listenerPath";

    private static readonly string[] RootfsPropagations =
    [
        // Schema values, plus the recursive variants runc accepts and containerd's CRI plugin emits.
        "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable",
    ];

    private static readonly string[] RlimitTypes =
    [
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS", "RLIMIT_MEMLOCK",
        "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
        "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    ];

    private static readonly string[] Capabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    private static readonly string[] IoPriorityClasses = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];

    private static readonly string[] SchedulerPolicies =
        ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"];

    private static readonly string[] SchedulerFlags =
    [
        "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
        "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX",
    ];

    private static readonly string[] SeccompActions =
    [
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    ];

    private static readonly string[] SeccompArchitectures =
    [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
    ];

    private static readonly string[] SeccompFlags =
    [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];

    private static readonly string[] SeccompOperators =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

    /// <summary>Seccomp actions the guest applies (SCMP_ACT_NOTIFY is refused), for <c>moat features</c>.</summary>
    public static IReadOnlyList<string> SupportedSeccompActions { get; } = [.. SeccompActions.Where(a => a != "SCMP_ACT_NOTIFY")];

    public static IReadOnlyList<string> SeccompOperatorNames { get; } = SeccompOperators;

    public static IReadOnlyList<string> SeccompArchitectureNames { get; } = SeccompArchitectures;

    public static IReadOnlyList<string> SeccompFlagNames { get; } = SeccompFlags;

    /// <summary>Validates <paramref name="spec"/>; never throws for bad content.</summary>
    public static ValidationResult Validate(Spec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var c = new Collector();
        ValidateVersion(spec.OciVersion, c);
        ValidateRoot(spec.Root, c);
        ValidateMounts(spec.Mounts, c);
        if (spec.Process is not null)
        {
            ValidateProcess(spec.Process, c);
        }

        if (spec.Hooks is not null)
        {
            ValidateHooks(spec.Hooks, c);
        }

        ValidateStringMap(spec.Annotations, "annotations", c);
        if (spec.Linux is not null)
        {
            ValidateLinux(spec.Linux, c);
        }

        CheckPlatformSection(spec.Vm, "vm", "the \"vm\" section is not supported; Moat chooses the hypervisor, kernel and guest image itself", c);
        CheckPlatformSection(spec.Windows, "windows", "Windows containers are not supported; Moat runs Linux containers", c);
        CheckPlatformSection(spec.Solaris, "solaris", "Solaris zones are not supported; Moat runs Linux containers", c);
        CheckPlatformSection(spec.Zos, "zos", "z/OS containers are not supported; Moat runs Linux containers", c);
        return new ValidationResult(c.Errors, c.Unsupported, c.Warnings);
    }

    /// <summary>
    /// Throws <see cref="OciConfigException"/> describing the first error (or, if there are none, the first unsupported
    /// feature, prefixed "unsupported: ") plus how many more there are, all on one line. Warnings never throw.
    /// </summary>
    public static void ThrowIfInvalid(this ValidationResult result, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Errors.Count > 0 || result.Unsupported.Count > 0)
        {
            throw Build(result, source, includeUnsupported: true);
        }
    }

    /// <summary>Like <see cref="ThrowIfInvalid"/>, but ignores unsupported features (used by the loader).</summary>
    internal static void ThrowIfErrors(ValidationResult result, string source)
    {
        if (result.Errors.Count > 0)
        {
            throw Build(result, source, includeUnsupported: false);
        }
    }

    private static OciConfigException Build(ValidationResult result, string source, bool includeUnsupported)
    {
        var firstIsError = result.Errors.Count > 0;
        var first = firstIsError ? result.Errors[0] : result.Unsupported[0];
        var moreErrors = result.Errors.Count - (firstIsError ? 1 : 0);
        var moreUnsupported = includeUnsupported ? result.Unsupported.Count - (firstIsError ? 0 : 1) : 0;

        var extra = new List<string>(2);
        if (moreErrors > 0)
        {
            extra.Add(Count(moreErrors, "more error", "more errors"));
        }

        if (moreUnsupported > 0)
        {
            extra.Add(firstIsError
                ? Count(moreUnsupported, "unsupported feature", "unsupported features")
                : Count(moreUnsupported, "more unsupported feature", "more unsupported features"));
        }

        var message = source + ": " + (firstIsError ? "" : "unsupported: ") + first
            + (extra.Count > 0 ? " (and " + string.Join(", ", extra) + ")" : "");
        IReadOnlyList<ValidationIssue> issues = includeUnsupported ? [.. result.Errors, .. result.Unsupported] : result.Errors;
        return new OciConfigException(Text.OneLine(message, 1000), source, first.Path, issues);
    }

    private static string Count(int n, string singular, string plural)
        => n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? singular : plural);

    private static void ValidateVersion(string version, Collector c)
    {
        const string p = "ociVersion";
        if (string.IsNullOrEmpty(version))
        {
            c.Error(p, "is required");
            return;
        }

        var m = SemVerRegex().Match(version);
        if (!m.Success)
        {
            c.Error(p, $"must be a SemVer 2.0.0 version such as \"{Spec.CurrentVersion}\", got {Q(version)}");
            return;
        }

        if (!int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var major) || major > 1)
        {
            c.Error(p, $"unsupported version {Q(version)}: Moat implements runtime-spec 1.x (up to {Spec.CurrentVersion})");
        }
        else if (major == 0)
        {
            c.Warning(p, $"pre-1.0 version {Q(version)}; the config is interpreted as runtime-spec {Spec.CurrentVersion}");
        }
        else if (!int.TryParse(m.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var minor) || minor > 1)
        {
            c.Warning(p, $"version {Q(version)} is newer than {Spec.CurrentVersion}; fields Moat does not know are ignored");
        }
    }

    private static void ValidateRoot(Root? root, Collector c)
    {
        if (root is null)
        {
            c.Error("root", "is required");
        }
        else if (string.IsNullOrEmpty(root.Path))
        {
            c.Error("root.path", "is required");
        }
        else
        {
            NoNul(root.Path, "root.path", c);
        }
    }

    private static void ValidateMounts(List<Mount>? mounts, Collector c)
    {
        if (mounts is null)
        {
            return;
        }

        for (var i = 0; i < mounts.Count; i++)
        {
            var p = Index("mounts", i);
            var m = mounts[i];
            if (m is null)
            {
                c.Error(p, "must be an object, got null");
                continue;
            }

            AbsolutePath(m.Destination, Prop(p, "destination"), c);
            NoNul(m.Source, Prop(p, "source"), c);
            StringList(m.Options, Prop(p, "options"), c);
            if (m.UidMappings is { Count: > 0 } || m.GidMappings is { Count: > 0 })
            {
                c.NotSupported(Prop(p, m.UidMappings is { Count: > 0 } ? "uidMappings" : "gidMappings"),
                    "id-mapped mounts are not supported inside the Moat guest; remove uidMappings/gidMappings from the mount");
            }
        }
    }

    private static void ValidateProcess(Process process, Collector c)
    {
        const string p = "process";
        if (process.Args is not { Count: > 0 })
        {
            c.Error("process.args", "must contain at least one element");
        }
        else
        {
            StringList(process.Args, "process.args", c);
            if (process.Args[0] is { Length: 0 })
            {
                c.Error("process.args[0]", "must not be empty");
            }
        }

        AbsolutePath(process.Cwd, "process.cwd", c);
        EnvList(process.Env, "process.env", c);

        if (process.ConsoleSize is not null && !process.Terminal)
        {
            c.Warning("process.consoleSize", "ignored because process.terminal is not true");
        }

        if (process.CommandLine is not null)
        {
            c.Warning("process.commandLine", "ignored: only meaningful for Windows containers");
        }

        if (process.User is null)
        {
            c.Error("process.user", "must be an object, got null");
        }
        else if (process.User.Username is not null)
        {
            c.Warning("process.user.username", "ignored: only meaningful for Windows containers");
        }

        if (process.Capabilities is { } caps)
        {
            CapabilityList(caps.Bounding, "process.capabilities.bounding", c);
            CapabilityList(caps.Effective, "process.capabilities.effective", c);
            CapabilityList(caps.Inheritable, "process.capabilities.inheritable", c);
            CapabilityList(caps.Permitted, "process.capabilities.permitted", c);
            CapabilityList(caps.Ambient, "process.capabilities.ambient", c);
        }

        if (process.Rlimits is { } rlimits)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < rlimits.Count; i++)
            {
                var rp = Index("process.rlimits", i);
                var r = rlimits[i];
                if (r is null)
                {
                    c.Error(rp, "must be an object, got null");
                    continue;
                }

                var tp = Prop(rp, "type");
                if (string.IsNullOrEmpty(r.Type))
                {
                    c.Error(tp, "is required");
                }
                else if (!RlimitRegex().IsMatch(r.Type))
                {
                    c.Error(tp, $"invalid rlimit type {Q(r.Type)}: must match RLIMIT_[A-Z]+");
                }
                else if (!RlimitTypes.Contains(r.Type, StringComparer.Ordinal))
                {
                    c.Error(tp, $"unknown rlimit type {Q(r.Type)}");
                }
                else if (!seen.Add(r.Type))
                {
                    c.Error(tp, $"duplicate rlimit type {Q(r.Type)}");
                }

                if (r.Soft > r.Hard)
                {
                    c.Error(Prop(rp, "soft"), $"soft limit {r.Soft} exceeds hard limit {r.Hard}");
                }
            }
        }

        if (!string.IsNullOrEmpty(process.ApparmorProfile))
        {
            c.Warning("process.apparmorProfile", $"AppArmor profile {Q(process.ApparmorProfile)} is not applied inside the guest; the VM is the isolation boundary");
        }

        if (!string.IsNullOrEmpty(process.SelinuxLabel))
        {
            c.Warning("process.selinuxLabel", $"SELinux label {Q(process.SelinuxLabel)} is not applied inside the guest; the VM is the isolation boundary");
        }

        if (process.OomScoreAdj is { } oom)
        {
            if (oom is < -1000 or > 1000)
            {
                c.Error("process.oomScoreAdj", $"must be between -1000 and 1000, got {oom}");
            }
            else
            {
                c.Warning("process.oomScoreAdj", "applies inside the guest only; the host OOM killer sees the whole VM");
            }
        }

        if (process.IoPriority is { } io)
        {
            var pp = Prop(p, "ioPriority");
            OneOf(io.Class, IoPriorityClasses, Prop(pp, "class"), "I/O priority class", c);
            if (io.Priority is < 0 or > 7)
            {
                c.Error(Prop(pp, "priority"), $"must be between 0 and 7, got {io.Priority}");
            }

            c.NotSupported(pp, "per-process I/O priority is not supported by Moat; remove process.ioPriority");
        }

        if (process.Scheduler is { } sched)
        {
            var sp = Prop(p, "scheduler");
            OneOf(sched.Policy, SchedulerPolicies, Prop(sp, "policy"), "scheduler policy", c);
            if (sched.Flags is { } flags)
            {
                for (var i = 0; i < flags.Count; i++)
                {
                    OneOf(flags[i], SchedulerFlags, Index(Prop(sp, "flags"), i), "scheduler flag", c);
                }
            }

            c.NotSupported(sp, "scheduling policies are not supported by Moat (the container runs on virtual CPUs); remove process.scheduler");
        }
    }

    private static void ValidateHooks(Hooks hooks, Collector c)
    {
        ValidateHookList(hooks.Prestart, "hooks.prestart", c);
        ValidateHookList(hooks.CreateRuntime, "hooks.createRuntime", c);
        ValidateHookList(hooks.CreateContainer, "hooks.createContainer", c);
        ValidateHookList(hooks.StartContainer, "hooks.startContainer", c);
        ValidateHookList(hooks.Poststart, "hooks.poststart", c);
        ValidateHookList(hooks.Poststop, "hooks.poststop", c);
    }

    private static void ValidateHookList(List<Hook>? hooks, string path, Collector c)
    {
        if (hooks is null)
        {
            return;
        }

        for (var i = 0; i < hooks.Count; i++)
        {
            var p = Index(path, i);
            var h = hooks[i];
            if (h is null)
            {
                c.Error(p, "must be an object, got null");
                continue;
            }

            AbsolutePath(h.Path, Prop(p, "path"), c);
            StringList(h.Args, Prop(p, "args"), c);
            EnvList(h.Env, Prop(p, "env"), c);
            if (h.Timeout is <= 0)
            {
                c.Error(Prop(p, "timeout"), $"must be greater than zero, got {h.Timeout}");
            }
        }
    }

    private static void ValidateLinux(Linux linux, Collector c)
    {
        ValidateNamespaces(linux.Namespaces, c);

        if (linux.UidMappings is { Count: > 0 })
        {
            c.NotSupported("linux.uidMappings", UserNamespaceMessage);
        }

        if (linux.GidMappings is { Count: > 0 })
        {
            c.NotSupported("linux.gidMappings", UserNamespaceMessage);
        }

        if (linux.TimeOffsets is { Count: > 0 })
        {
            c.NotSupported("linux.timeOffsets", "time namespaces are not supported by Moat; remove linux.timeOffsets");
        }

        ValidateDevices(linux.Devices, c);

        if (linux.Resources is not null)
        {
            ValidateResources(linux.Resources, c);
        }

        if (linux.IntelRdt is { } rdt)
        {
            if (rdt.MemBwSchema is { } mb && (!mb.StartsWith("MB:", StringComparison.Ordinal) || mb.Contains('\n', StringComparison.Ordinal)))
            {
                c.Error("linux.intelRdt.memBwSchema", $"must start with \"MB:\" and be a single line, got {Q(mb)}");
            }

            c.NotSupported("linux.intelRdt", "Intel RDT is not supported: the container runs inside a VM; remove linux.intelRdt");
        }

        ValidateStringMap(linux.Sysctl, "linux.sysctl", c);
        foreach (var key in linux.Sysctl?.Keys ?? Enumerable.Empty<string>())
        {
            if (key.Length > 0 && !IsSysctlName(key))
            {
                c.Error(Key("linux.sysctl", key), "invalid sysctl name: names are letters, digits, '_' and '-' in parts joined by '.' or '/' (net.ipv4.ip_forward)");
            }
        }

        if (linux.Seccomp is not null)
        {
            ValidateSeccomp(linux.Seccomp, c);
        }

        if (!string.IsNullOrEmpty(linux.RootfsPropagation))
        {
            OneOf(linux.RootfsPropagation, RootfsPropagations, "linux.rootfsPropagation", "rootfs propagation", c);
        }

        AbsolutePathList(linux.MaskedPaths, "linux.maskedPaths", c);
        AbsolutePathList(linux.ReadonlyPaths, "linux.readonlyPaths", c);

        if (!string.IsNullOrEmpty(linux.MountLabel))
        {
            c.Warning("linux.mountLabel", $"SELinux mount label {Q(linux.MountLabel)} is not applied inside the guest; the VM is the isolation boundary");
        }

        if (linux.Personality is { } pers)
        {
            const string dp = "linux.personality.domain";
            if (OneOf(pers.Domain, ["LINUX", "LINUX32"], dp, "personality domain", c) && pers.Domain != "LINUX")
            {
                c.NotSupported(dp, $"personality domain {Q(pers.Domain)} is not supported by Moat; only \"LINUX\" is");
            }

            if (pers.Flags is { Count: > 0 })
            {
                c.Warning("linux.personality.flags", "personality flags are ignored");
            }
        }
    }

    private static void ValidateNamespaces(List<LinuxNamespace>? namespaces, Collector c)
    {
        if (namespaces is null)
        {
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < namespaces.Count; i++)
        {
            var p = Index("linux.namespaces", i);
            var ns = namespaces[i];
            if (ns is null)
            {
                c.Error(p, "must be an object, got null");
                continue;
            }

            var tp = Prop(p, "type");
            var known = false;
            if (string.IsNullOrEmpty(ns.Type))
            {
                c.Error(tp, "is required");
            }
            else if (!NamespaceTypes.All.Contains(ns.Type, StringComparer.Ordinal))
            {
                c.Error(tp, $"unknown namespace type {Q(ns.Type)}");
            }
            else if (!seen.Add(ns.Type))
            {
                c.Error(tp, $"duplicate namespace type {Q(ns.Type)}");
            }
            else
            {
                known = true;
            }

            var hasPath = !string.IsNullOrEmpty(ns.Path);
            if (hasPath)
            {
                AbsolutePath(ns.Path, Prop(p, "path"), c);
            }

            if (!known)
            {
                continue;
            }

            if (ns.Type == NamespaceTypes.User)
            {
                c.NotSupported(p, UserNamespaceMessage);
            }
            else if (ns.Type == NamespaceTypes.Time)
            {
                c.NotSupported(p, "time namespaces are not supported by Moat; remove the time namespace");
            }
            else if (hasPath && ns.Type != NamespaceTypes.Network)
            {
                c.NotSupported(Prop(p, "path"), $"joining host namespace {Q(ns.Path)} ({ns.Type}) is not possible from a VM; remove the path to get a new {ns.Type} namespace");
            }
        }
    }

    private static void ValidateDevices(List<LinuxDevice>? devices, Collector c)
    {
        if (devices is null)
        {
            return;
        }

        for (var i = 0; i < devices.Count; i++)
        {
            var p = Index("linux.devices", i);
            var d = devices[i];
            if (d is null)
            {
                c.Error(p, "must be an object, got null");
                continue;
            }

            var tp = Prop(p, "type");
            if (string.IsNullOrEmpty(d.Type))
            {
                c.Error(tp, "is required");
            }
            else if (d.Type is not ("c" or "b" or "u" or "p"))
            {
                c.Error(tp, $"invalid device type {Q(d.Type)}: must be one of c, b, u, p");
            }
            else if (d.Type != "p" && (d.Major is null || d.Minor is null))
            {
                c.Error(Prop(p, d.Major is null ? "major" : "minor"), $"is required for device type {Q(d.Type)}");
            }

            AbsolutePath(d.Path, Prop(p, "path"), c);
            if (d.FileMode is > 0xFFF)
            {
                c.Error(Prop(p, "fileMode"), $"must be a permission mode no larger than 07777, got {d.FileMode}");
            }
        }
    }

    private static void ValidateResources(LinuxResources r, Collector c)
    {
        const string p = "linux.resources";
        if (r.Devices is { } devices)
        {
            for (var i = 0; i < devices.Count; i++)
            {
                var dp = Index(Prop(p, "devices"), i);
                var d = devices[i];
                if (d is null)
                {
                    c.Error(dp, "must be an object, got null");
                    continue;
                }

                if (d.Type is not (null or "a" or "c" or "b"))
                {
                    c.Error(Prop(dp, "type"), $"invalid device type {Q(d.Type)}: must be one of a, c, b");
                }

                if (d.Access is { } access && (access.Any(ch => ch is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length))
                {
                    c.Error(Prop(dp, "access"), $"must be a combination of r, w and m, got {Q(access)}");
                }
            }
        }

        if (r.Memory is { } mem)
        {
            var mp = Prop(p, "memory");
            MemoryValue(mem.Limit, Prop(mp, "limit"), c);
            MemoryValue(mem.Reservation, Prop(mp, "reservation"), c);
            MemoryValue(mem.Swap, Prop(mp, "swap"), c);
            MemoryValue(mem.Kernel, Prop(mp, "kernel"), c);
            MemoryValue(mem.KernelTcp, Prop(mp, "kernelTCP"), c);
            if (mem.Swappiness is > 100)
            {
                c.Error(Prop(mp, "swappiness"), $"must be between 0 and 100, got {mem.Swappiness}");
            }
        }

        if (r.Cpu is { } cpu)
        {
            var cp = Prop(p, "cpu");
            if (cpu.Quota is < -1)
            {
                c.Error(Prop(cp, "quota"), $"must be -1 (unlimited) or a positive number of microseconds, got {cpu.Quota}");
            }

            if (cpu.Quota is > 0 && cpu.Burst is { } burst && burst > (ulong)cpu.Quota.Value)
            {
                c.Error(Prop(cp, "burst"), $"must not exceed quota ({cpu.Quota}), got {burst}");
            }

            if (cpu.Idle is not (null or 0 or 1))
            {
                c.Error(Prop(cp, "idle"), $"must be 0 or 1, got {cpu.Idle}");
            }

            CpuSet(cpu.Cpus, Prop(cp, "cpus"), c);
            CpuSet(cpu.Mems, Prop(cp, "mems"), c);
        }

        if (r.BlockIO?.WeightDevice is { } weightDevices)
        {
            for (var i = 0; i < weightDevices.Count; i++)
            {
                var wp = Index(Prop(p, "blockIO.weightDevice"), i);
                if (weightDevices[i] is null)
                {
                    c.Error(wp, "must be an object, got null");
                }
                else if (weightDevices[i].Weight is null && weightDevices[i].LeafWeight is null)
                {
                    c.Error(wp, "must specify weight or leafWeight");
                }
            }
        }

        if (r.BlockIO is { } bio)
        {
            NonNullItems(bio.ThrottleReadBpsDevice, Prop(p, "blockIO.throttleReadBpsDevice"), c);
            NonNullItems(bio.ThrottleWriteBpsDevice, Prop(p, "blockIO.throttleWriteBpsDevice"), c);
            NonNullItems(bio.ThrottleReadIopsDevice, Prop(p, "blockIO.throttleReadIOPSDevice"), c);
            NonNullItems(bio.ThrottleWriteIopsDevice, Prop(p, "blockIO.throttleWriteIOPSDevice"), c);
        }

        if (r.HugepageLimits is { } huge)
        {
            for (var i = 0; i < huge.Count; i++)
            {
                var hp = Index(Prop(p, "hugepageLimits"), i);
                if (huge[i] is null)
                {
                    c.Error(hp, "must be an object, got null");
                }
                else if (string.IsNullOrEmpty(huge[i].PageSize))
                {
                    c.Error(Prop(hp, "pageSize"), "is required");
                }
                else if (!PageSizeRegex().IsMatch(huge[i].PageSize))
                {
                    c.Error(Prop(hp, "pageSize"), $"invalid page size {Q(huge[i].PageSize)}: must look like 64KB, 2MB or 1GB");
                }
            }
        }

        if (r.Network?.Priorities is { } prios)
        {
            for (var i = 0; i < prios.Count; i++)
            {
                var pp = Index(Prop(p, "network.priorities"), i);
                if (prios[i] is null)
                {
                    c.Error(pp, "must be an object, got null");
                }
                else if (string.IsNullOrEmpty(prios[i].Name))
                {
                    c.Error(Prop(pp, "name"), "is required");
                }
            }
        }

        if (r.Rdma is { } rdma)
        {
            foreach (var (device, limits) in rdma)
            {
                var rp = Key(Prop(p, "rdma"), device);
                if (device.Length == 0)
                {
                    c.Error(Prop(p, "rdma"), "device names must not be empty");
                }
                else if (limits is null)
                {
                    c.Error(rp, "must be an object, got null");
                }
                else if (limits.HcaHandles is null && limits.HcaObjects is null)
                {
                    c.Error(rp, "must specify hcaHandles or hcaObjects");
                }
            }
        }

        if (r.Unified is { } unified)
        {
            ValidateStringMap(unified, Prop(p, "unified"), c);
            foreach (var key in unified.Keys)
            {
                if (key.Length > 0 && (key.Contains('/', StringComparison.Ordinal) || key is "." or ".."))
                {
                    c.Error(Key(Prop(p, "unified"), key), $"invalid cgroup file name {Q(key)}");
                }
            }
        }
    }

    private static void ValidateSeccomp(LinuxSeccomp s, Collector c)
    {
        const string p = "linux.seccomp";
        if (OneOf(s.DefaultAction, SeccompActions, Prop(p, "defaultAction"), "seccomp action", c))
        {
            ErrnoAllowed(s.DefaultErrnoRet, s.DefaultAction, Prop(p, "defaultErrnoRet"), c);
            NotifyRefused(s.DefaultAction, Prop(p, "defaultAction"), c);
        }

        if (s.Architectures is { } archs)
        {
            for (var i = 0; i < archs.Count; i++)
            {
                OneOf(archs[i], SeccompArchitectures, Index(Prop(p, "architectures"), i), "seccomp architecture", c);
            }
        }

        if (s.Flags is { } flags)
        {
            for (var i = 0; i < flags.Count; i++)
            {
                OneOf(flags[i], SeccompFlags, Index(Prop(p, "flags"), i), "seccomp flag", c);
            }
        }

        if (!string.IsNullOrEmpty(s.ListenerMetadata) && string.IsNullOrEmpty(s.ListenerPath))
        {
            c.Error(Prop(p, "listenerMetadata"), "must not be set without listenerPath");
        }

        if (!string.IsNullOrEmpty(s.ListenerPath))
        {
            c.NotSupported(Prop(p, "listenerPath"), SeccompListenerMessage);
        }

        if (s.Syscalls is { } syscalls)
        {
            for (var i = 0; i < syscalls.Count; i++)
            {
                var sp = Index(Prop(p, "syscalls"), i);
                var sc = syscalls[i];
                if (sc is null)
                {
                    c.Error(sp, "must be an object, got null");
                    continue;
                }

                if (sc.Names is not { Count: > 0 })
                {
                    c.Error(Prop(sp, "names"), "must contain at least one element");
                }
                else
                {
                    for (var j = 0; j < sc.Names.Count; j++)
                    {
                        if (string.IsNullOrEmpty(sc.Names[j]))
                        {
                            c.Error(Index(Prop(sp, "names"), j), "must be a non-empty string");
                        }
                    }
                }

                if (OneOf(sc.Action, SeccompActions, Prop(sp, "action"), "seccomp action", c))
                {
                    ErrnoAllowed(sc.ErrnoRet, sc.Action, Prop(sp, "errnoRet"), c);
                    NotifyRefused(sc.Action, Prop(sp, "action"), c);
                }

                if (sc.Args is { } args)
                {
                    for (var j = 0; j < args.Count; j++)
                    {
                        var ap = Index(Prop(sp, "args"), j);
                        if (args[j] is null)
                        {
                            c.Error(ap, "must be an object, got null");
                            continue;
                        }

                        if (args[j].Index > 5)
                        {
                            c.Error(Prop(ap, "index"), $"must be between 0 and 5, got {args[j].Index}");
                        }

                        OneOf(args[j].Op, SeccompOperators, Prop(ap, "op"), "seccomp operator", c);
                    }
                }
            }
        }
    }

    private static void NotifyRefused(string action, string path, Collector c)
    {
        if (action == "SCMP_ACT_NOTIFY")
        {
            c.NotSupported(path, SeccompNotifyMessage);
        }
    }

    private static void ErrnoAllowed(uint? errno, string action, string path, Collector c)
    {
        if (errno is not null && action is not ("SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE"))
        {
            c.Error(path, $"is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}");
        }
    }

    private static void CheckPlatformSection(JsonElement? section, string name, string message, Collector c)
    {
        if (section is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            c.NotSupported(name, message);
        }
    }

    // ---- small helpers -------------------------------------------------------------------------------------------

    private static string Q(string? value) => Text.Quote(value);

    private static bool OneOf(string? value, string[] allowed, string path, string what, Collector c)
    {
        if (string.IsNullOrEmpty(value))
        {
            c.Error(path, "is required");
            return false;
        }

        if (!allowed.Contains(value, StringComparer.Ordinal))
        {
            c.Error(path, $"unknown {what} {Q(value)}");
            return false;
        }

        return true;
    }

    private static void AbsolutePath(string? value, string path, Collector c)
    {
        if (string.IsNullOrEmpty(value))
        {
            c.Error(path, "is required");
        }
        else if (value[0] != '/')
        {
            c.Error(path, $"must be an absolute path, got {Q(value)}");
        }
        else
        {
            NoNul(value, path, c);
        }
    }

    /// <summary>A path, argument or option reaches a syscall as a C string: a NUL would cut it short (or make .NET's path APIs throw).</summary>
    private static void NoNul(string? value, string path, Collector c)
    {
        if (value is not null && value.Contains('\0', StringComparison.Ordinal))
        {
            c.Error(path, $"must not contain NUL characters, got {Q(value)}");
        }
    }

    private static void AbsolutePathList(List<string>? values, string path, Collector c)
    {
        if (values is null)
        {
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            AbsolutePath(values[i], Index(path, i), c);
        }
    }

    private static void StringList(List<string>? values, string path, Collector c)
    {
        if (values is null)
        {
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is null)
            {
                c.Error(Index(path, i), "must be a string, got null");
            }
            else
            {
                NoNul(values[i], Index(path, i), c);
            }
        }
    }

    private static void NonNullItems<T>(List<T>? values, string path, Collector c)
        where T : class
    {
        if (values is null)
        {
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is null)
            {
                c.Error(Index(path, i), "must be an object, got null");
            }
        }
    }

    private static void EnvList(List<string>? env, string path, Collector c)
    {
        if (env is null)
        {
            return;
        }

        for (var i = 0; i < env.Count; i++)
        {
            var e = env[i];
            if (e is null)
            {
                c.Error(Index(path, i), "must be a string, got null");
            }
            else if (e.IndexOf('=', StringComparison.Ordinal) <= 0)
            {
                c.Error(Index(path, i), $"must be in KEY=VALUE form, got {Q(e)}");
            }
            else if (e.Contains('\0', StringComparison.Ordinal))
            {
                c.Error(Index(path, i), $"must not contain NUL characters, got {Q(e)}");
            }
        }
    }

    private static void CapabilityList(List<string>? caps, string path, Collector c)
    {
        if (caps is null)
        {
            return;
        }

        for (var i = 0; i < caps.Count; i++)
        {
            var cap = caps[i];
            var p = Index(path, i);
            if (cap is null)
            {
                c.Error(p, "must be a string, got null");
            }
            else if (!CapabilityRegex().IsMatch(cap))
            {
                c.Error(p, $"invalid capability {Q(cap)}: must be of the form CAP_NAME");
            }
            else if (!Capabilities.Contains(cap, StringComparer.Ordinal))
            {
                c.Warning(p, $"unknown capability {Q(cap)} will not be granted");
            }
        }
    }

    /// <summary>A sysctl's name is a path under /proc/sys: no empty, "." or ".." part can walk out of it.</summary>
    private static bool IsSysctlName(string key) =>
        key.Split('.', '/').All(part => part.Length > 0 && part.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-'));

    private static void ValidateStringMap(Dictionary<string, string>? map, string path, Collector c)
    {
        if (map is null)
        {
            return;
        }

        foreach (var (key, value) in map)
        {
            if (key.Length == 0)
            {
                c.Error(path, "keys must not be empty");
            }
            else if (value is null)
            {
                c.Error(Key(path, key), "must be a string, got null");
            }
        }
    }

    private static void MemoryValue(long? value, string path, Collector c)
    {
        if (value is < -1)
        {
            c.Error(path, $"must be -1 (unlimited) or a non-negative number of bytes, got {value}");
        }
    }

    private static void CpuSet(string? value, string path, Collector c)
    {
        if (!string.IsNullOrEmpty(value) && !CpuSetRegex().IsMatch(value))
        {
            c.Error(path, $"invalid list {Q(value)}: must look like \"0-3,7\"");
        }
    }

    // SemVer 2.0.0 (semver.org), ASCII digits only.
    [GeneratedRegex(@"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex SemVerRegex();

    [GeneratedRegex(@"^RLIMIT_[A-Z]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex RlimitRegex();

    [GeneratedRegex(@"^CAP_[A-Z0-9_]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex CapabilityRegex();

    [GeneratedRegex(@"^[1-9][0-9]*[KMG]B\z", RegexOptions.CultureInvariant)]
    private static partial Regex PageSizeRegex();

    [GeneratedRegex(@"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex CpuSetRegex();

    private sealed class Collector
    {
        public List<ValidationIssue> Errors { get; } = [];

        public List<ValidationIssue> Unsupported { get; } = [];

        public List<ValidationIssue> Warnings { get; } = [];

        public void Error(string path, string message) => Errors.Add(new ValidationIssue(path, message));

        public void NotSupported(string path, string message) => Unsupported.Add(new ValidationIssue(path, message));

        public void Warning(string path, string message) => Warnings.Add(new ValidationIssue(path, message));
    }
}
