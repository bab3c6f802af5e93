using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Runtime;

/// <summary>
/// What the VMM launcher does to QEMU before it execs it, on top of QEMU's own <c>-sandbox</c>:
/// QEMU serves the guest's file operations on host files (9p, as root), so a guest that owns its
/// kernel can ask for anything a root process may do. QEMU keeps only the capabilities 9p needs to
/// act for the guest's users on its share (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
/// CAP_FOWNER): no CAP_MKNOD (no device nodes on the host), no CAP_FSETID (a write clears a
/// set-id bit), no CAP_SETFCAP (no file capabilities), no CAP_SYS_ADMIN; no_new_privs; and a
/// seccomp filter that refuses to create set-user-ID or set-group-ID files or device nodes (chmod,
/// mknod and open/creat with those bits), which capabilities alone cannot stop for files QEMU
/// owns. It also runs in a network namespace of its own (it needs none: taps come as fds).
/// </summary>
internal static class VmmConfinement
{
    public static readonly string[] KeptCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"];

    private const uint SYS_open = 2, SYS_chmod = 90, SYS_fchmod = 91, SYS_creat = 85, SYS_mknod = 133, SYS_mknodat = 259,
        SYS_openat = 257, SYS_fchmodat = 268, SYS_openat2 = 437, SYS_fchmodat2 = 452;

    private const uint S_ISUID = 0x800, S_ISGID = 0x400, S_IFMT = 0xf000, S_IFCHR = 0x2000, S_IFBLK = 0x6000;
    // The kernel's __O_TMPFILE bit alone (O_TMPFILE also carries O_DIRECTORY, which must not trigger the mode check).
    private const uint O_CREAT = 0x40, O_TMPFILE_BIT = 0x400000;

    /// <summary>Drops what QEMU must not have; the caller execs QEMU next.</summary>
    public static void Apply()
    {
        var keep = Capabilities.Mask(KeptCapabilities);
        // CAP_SETPCAP stays effective in this process until the exec, so it can drop itself too.
        for (var cap = 0; cap <= Capabilities.Last; cap++)
        {
            if ((keep & (1UL << cap)) == 0)
            {
                ErrnoException.Check(Libc.prctl(Libc.PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)", cap.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        ErrnoException.Check(Libc.prctl(Libc.PR_CAP_AMBIENT, Libc.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
        ErrnoException.Check(Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        HostFileGuard().Install();
    }

    /// <summary>The filter: set-id modes and device nodes are EPERM, openat2 (whose mode it cannot see) ENOSYS, other architectures fatal.</summary>
    internal static SeccompProgram HostFileGuard()
    {
        var p = new SeccompProgram();
        p.LoadArch().JumpIfEqual(Libc.AUDIT_ARCH_X86_64, null, "kill");
        p.LoadNr().JumpIfAtLeast(Libc.X32_SYSCALL_BIT, "nosys");
        // system call → the argument that holds its mode
        p.JumpIfEqual(SYS_chmod, "mode1").JumpIfEqual(SYS_fchmod, "mode1").JumpIfEqual(SYS_creat, "mode1")
            .JumpIfEqual(SYS_fchmodat, "mode2").JumpIfEqual(SYS_fchmodat2, "mode2")
            .JumpIfEqual(SYS_mknod, "node1").JumpIfEqual(SYS_mknodat, "node2")
            .JumpIfEqual(SYS_open, "open").JumpIfEqual(SYS_openat, "openat")
            .JumpIfEqual(SYS_openat2, "nosys")
            .Return(Libc.SECCOMP_RET_ALLOW);
        // (classic BPF jumps only forward: the open blocks come before the mode checks they use)
        p.Label("open").LoadArgLow(1).JumpIfAnySet(O_CREAT | O_TMPFILE_BIT, "mode2").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("openat").LoadArgLow(2).JumpIfAnySet(O_CREAT | O_TMPFILE_BIT, "mode3").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("mode1").LoadArgLow(1).JumpIfAnySet(S_ISUID | S_ISGID, "deny").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("mode2").LoadArgLow(2).JumpIfAnySet(S_ISUID | S_ISGID, "deny").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("mode3").LoadArgLow(3).JumpIfAnySet(S_ISUID | S_ISGID, "deny").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("node1").LoadArgLow(1).And(S_IFMT).JumpIfEqual(S_IFCHR, "deny").JumpIfEqual(S_IFBLK, "deny").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("node2").LoadArgLow(2).And(S_IFMT).JumpIfEqual(S_IFCHR, "deny").JumpIfEqual(S_IFBLK, "deny").Return(Libc.SECCOMP_RET_ALLOW);
        p.Label("deny").Return(Libc.SECCOMP_RET_ERRNO | Libc.EPERM);
        p.Label("nosys").Return(Libc.SECCOMP_RET_ERRNO | Libc.ENOSYS);
        p.Label("kill").Return(Libc.SECCOMP_RET_KILL_PROCESS);
        return p;
    }
}
