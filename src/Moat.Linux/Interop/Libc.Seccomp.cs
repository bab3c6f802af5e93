using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>seccomp(2) (linux/seccomp.h, linux/filter.h) and the memfd a filter program is exported to.</summary>
public static unsafe partial class Libc
{
    public const long SYS_seccomp = 317;

    public const uint SECCOMP_SET_MODE_FILTER = 1;

    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1, SECCOMP_FILTER_FLAG_LOG = 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;

    /// <summary>Bytes of one classic BPF instruction (struct sock_filter).</summary>
    public const int SockFilterSize = 8;

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
