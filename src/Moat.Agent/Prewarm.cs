using System.Text.Json;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// Code a container's create runs, run once before any container asks. Under software emulation
/// first-time work is slow: System.Text.Json builds its metadata for every type of the spec on first
/// use, and that is guest CPU. Done while nobody waits (in a VM template, before it is saved, so
/// every clone starts with it done), a create only pays for the parse itself.
/// </summary>
internal static class Prewarm
{
    /// <summary>The agent's side of a create: the spec from the host's JSON, the helper's spec to JSON.</summary>
    public static void Agent() =>
        _ = HelperSpec(SpecLoader.Deserialize(JsonSerializer.Serialize(Sample(), OciJsonContext.Default.Spec))).ToJson();

    /// <summary>A helper's side: its spec from JSON.</summary>
    public static void Helper() => InitSpec.FromJson(HelperSpec(Sample()).ToJson());

    private static InitSpec HelperSpec(Spec spec) => new() { Spec = spec, Rootfs = "/", Process = spec.Process! };

    /// <summary>A spec with what Docker, containerd's CRI and Podman send: the default one with resources and a seccomp profile.</summary>
    public static Spec Sample()
    {
        var spec = DefaultSpec.Create();
        spec.Annotations = new Dictionary<string, string> { [AgentService.CriContainerTypeAnnotation] = "container" };
        if (spec.Linux is { } linux)
        {
            linux.Resources = new LinuxResources
            {
                Memory = new LinuxMemory { Limit = 64L << 20 },
                Cpu = new LinuxCpu { Shares = 1024, Quota = 100_000, Period = 100_000 },
                Pids = new LinuxPids { Limit = 1024 },
            };
            linux.Seccomp = SeccompSample();
            linux.Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_unprivileged_port_start"] = "0" };
        }
        return spec;
    }

    /// <summary>A profile shaped like Docker's default (three x86 ABIs, argument filters, enough rules for the binary tree).</summary>
    public static LinuxSeccomp SeccompSample()
    {
        string[] names =
        [
            "read", "write", "openat", "close", "fstat", "mmap", "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask",
            "ioctl", "pread64", "pwrite64", "readv", "writev", "access", "pipe", "select", "sched_yield", "mremap", "msync",
            "mincore", "madvise", "dup", "dup2", "pause", "nanosleep", "getitimer", "alarm", "setitimer", "getpid", "sendfile",
            "connect", "accept", "execve", "exit_group", "futex",
        ];
        return new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            Syscalls =
            [
                .. names.Select(n => new LinuxSyscall { Names = [n], Action = "SCMP_ACT_ALLOW" }),
                new LinuxSyscall { Names = ["personality"], Action = "SCMP_ACT_ALLOW", Args = [new LinuxSeccompArg { Index = 0, Value = 8, Op = "SCMP_CMP_EQ" }] },
                new LinuxSyscall { Names = ["clone"], Action = "SCMP_ACT_ALLOW", Args = [new LinuxSeccompArg { Index = 0, Value = 0x7e020000, ValueTwo = 0, Op = "SCMP_CMP_MASKED_EQ" }] },
            ],
        };
    }
}
