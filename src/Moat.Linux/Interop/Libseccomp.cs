using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>
/// libseccomp (seccomp.h of Debian's libseccomp2), the library runc and crun build seccomp
/// filters with. It is not in the agent's ELF NEEDED list: the loader opens it on the first call,
/// so a process that never applies a profile never loads it. Functions return 0 or a negative
/// errno (they do not set errno); names and constants keep their C spelling.
/// </summary>
public static unsafe partial class Libseccomp
{
    /// <summary>The soname; the guest image builder copies it into the initrd.</summary>
    public const string Lib = "libseccomp.so.2";

    public const uint SCMP_ACT_KILL_PROCESS = 0x80000000, SCMP_ACT_KILL_THREAD = 0x00000000, SCMP_ACT_TRAP = 0x00030000,
        SCMP_ACT_NOTIFY = 0x7fc00000, SCMP_ACT_LOG = 0x7ffc0000, SCMP_ACT_ALLOW = 0x7fff0000;

    private const uint SCMP_ACT_ERRNO_BASE = 0x00050000, SCMP_ACT_TRACE_BASE = 0x7ff00000, SCMP_ACT_DATA_MASK = 0x0000ffff;

    /// <summary><c>SCMP_ACT_ERRNO(x)</c>: the call fails with errno <paramref name="errno"/>.</summary>
    public static uint SCMP_ACT_ERRNO(uint errno) => SCMP_ACT_ERRNO_BASE | (errno & SCMP_ACT_DATA_MASK);

    /// <summary><c>SCMP_ACT_TRACE(x)</c>: a ptrace tracer is told (message <paramref name="msg"/>); without one the call fails with ENOSYS.</summary>
    public static uint SCMP_ACT_TRACE(uint msg) => SCMP_ACT_TRACE_BASE | (msg & SCMP_ACT_DATA_MASK);

    /// <summary>What <see cref="seccomp_syscall_resolve_name"/> returns for a name libseccomp does not know.</summary>
    public const int __NR_SCMP_ERROR = -1;

    /// <summary>enum scmp_compare.</summary>
    public const int SCMP_CMP_NE = 1, SCMP_CMP_LT = 2, SCMP_CMP_LE = 3, SCMP_CMP_EQ = 4, SCMP_CMP_GE = 5, SCMP_CMP_GT = 6,
        SCMP_CMP_MASKED_EQ = 7;

    /// <summary>enum scmp_filter_attr.</summary>
    public const int SCMP_FLTATR_CTL_NNP = 3, SCMP_FLTATR_CTL_TSYNC = 4, SCMP_FLTATR_CTL_LOG = 6, SCMP_FLTATR_CTL_SSB = 7,
        SCMP_FLTATR_CTL_OPTIMIZE = 8;

    /// <summary>struct scmp_arg_cmp: argument <c>arg</c> compared with <c>op</c>; for SCMP_CMP_MASKED_EQ, datum_a is the mask and datum_b the value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct scmp_arg_cmp
    {
        public uint arg;
        public int op;
        public ulong datum_a;
        public ulong datum_b;
    }

    [LibraryImport(Lib)]
    public static partial SafeSeccompFilter seccomp_init(uint def_action);

    [LibraryImport(Lib)]
    public static partial void seccomp_release(nint ctx);

    /// <summary>The token of an architecture by libseccomp's name ("x86_64", "x86", "x32", "aarch64", ...); 0 when unknown.</summary>
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint seccomp_arch_resolve_name(string arch_name);

    [LibraryImport(Lib)]
    public static partial uint seccomp_arch_native();

    /// <summary>0 when the filter has the architecture, -EEXIST when it has not.</summary>
    [LibraryImport(Lib)]
    public static partial int seccomp_arch_exist(SafeSeccompFilter ctx, uint arch_token);

    [LibraryImport(Lib)]
    public static partial int seccomp_arch_add(SafeSeccompFilter ctx, uint arch_token);

    [LibraryImport(Lib)]
    public static partial int seccomp_attr_set(SafeSeccompFilter ctx, int attr, uint value);

    /// <summary>The native architecture's number of a system call, or <see cref="__NR_SCMP_ERROR"/>.</summary>
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int seccomp_syscall_resolve_name(string name);

    [LibraryImport(Lib)]
    public static partial int seccomp_rule_add_array(SafeSeccompFilter ctx, uint action, int syscall, uint arg_cnt, scmp_arg_cmp* arg_array);

    /// <summary>Generates the filter's classic BPF program and writes it to <paramref name="fd"/> (struct sock_filter, native byte order).</summary>
    [LibraryImport(Lib)]
    public static partial int seccomp_export_bpf(SafeSeccompFilter ctx, int fd);

    /// <summary>Writes the filter as readable pseudo-filter code to <paramref name="fd"/> (for tests and debugging).</summary>
    [LibraryImport(Lib)]
    public static partial int seccomp_export_pfc(SafeSeccompFilter ctx, int fd);
}

/// <summary>A libseccomp filter context (<c>scmp_filter_ctx</c>), released with <c>seccomp_release</c>.</summary>
public sealed class SafeSeccompFilter : SafeHandle
{
    public SafeSeccompFilter() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Libseccomp.seccomp_release(handle);
        return true;
    }
}
