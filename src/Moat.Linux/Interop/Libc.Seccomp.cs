using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>
/// seccomp(2) and classic BPF (linux/seccomp.h, linux/filter.h, linux/audit.h), and the memfd a
/// libseccomp program is exported to.
/// </summary>
public static unsafe partial class Libc
{
    public const long SYS_seccomp = 317;

    public const uint SECCOMP_SET_MODE_FILTER = 1;

    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1, SECCOMP_FILTER_FLAG_LOG = 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;

    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000, SECCOMP_RET_ERRNO = 0x00050000, SECCOMP_RET_ALLOW = 0x7fff0000;

    /// <summary>seccomp_data.arch of x86_64, and the bit x32 system call numbers carry.</summary>
    public const uint AUDIT_ARCH_X86_64 = 0xC000003E, X32_SYSCALL_BIT = 0x40000000;

    public const ushort BPF_LD = 0x00, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_RET = 0x06, BPF_W = 0x00, BPF_ABS = 0x20,
        BPF_JEQ = 0x10, BPF_JGE = 0x30, BPF_JSET = 0x40, BPF_AND = 0x50, BPF_K = 0x00;


    /// <summary>Bytes of one classic BPF instruction (struct sock_filter).</summary>
    public const int SockFilterSize = 8;

    [StructLayout(LayoutKind.Sequential)]
    public struct sock_filter
    {
        public ushort code;
        public byte jt;
        public byte jf;
        public uint k;
    }

    /// <summary>struct sock_fprog: a classic BPF program of <c>len</c> instructions.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sock_fprog
    {
        public ushort len;
        public byte* filter;
    }

    public const uint MFD_CLOEXEC = 1;

    public const int SEEK_SET = 0, SEEK_END = 2;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint pread(int fd, byte* buf, nint count, long offset);
}
