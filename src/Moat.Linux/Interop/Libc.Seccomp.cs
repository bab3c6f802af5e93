using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>Classic BPF seccomp filters (linux/seccomp.h, linux/filter.h, linux/audit.h).</summary>
public static unsafe partial class Libc
{
    public const long SYS_seccomp = 317;

    public const uint SECCOMP_SET_MODE_FILTER = 1;

    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000, SECCOMP_RET_ERRNO = 0x00050000, SECCOMP_RET_ALLOW = 0x7fff0000;

    /// <summary>seccomp_data.arch of x86_64, and the bit x32 system call numbers carry.</summary>
    public const uint AUDIT_ARCH_X86_64 = 0xC000003E, X32_SYSCALL_BIT = 0x40000000;

    public const ushort BPF_LD = 0x00, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_RET = 0x06, BPF_W = 0x00, BPF_ABS = 0x20,
        BPF_JEQ = 0x10, BPF_JGE = 0x30, BPF_JSET = 0x40, BPF_AND = 0x50, BPF_K = 0x00;

    public const int ENOSYS = 38, EPERM = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct sock_filter
    {
        public ushort code;
        public byte jt;
        public byte jf;
        public uint k;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct sock_fprog
    {
        public ushort len;
        public sock_filter* filter;
    }
}
