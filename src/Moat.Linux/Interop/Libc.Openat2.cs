using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static unsafe partial class Libc
{
    public const long SYS_openat2 = 437;

    /// <summary>openat2 resolve flags: no /proc magic links; resolve as if the dirfd were "/".</summary>
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;


    [StructLayout(LayoutKind.Sequential)]
    public struct open_how
    {
        public ulong flags;
        public ulong mode;
        public ulong resolve;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint readlinkat(int dirfd, string path, byte* buf, nint size);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, int mode);

    /// <summary>openat2(2) through syscall(2): glibc 2.36 has no wrapper.</summary>
    public static int openat2(int dirfd, string path, open_how* how)
    {
        var p = Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            return (int)syscall(SYS_openat2, dirfd, p, (nint)how, sizeof(open_how), 0);
        }
        finally
        {
            Marshal.FreeCoTaskMem(p);
        }
    }
}
