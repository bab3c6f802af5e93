using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static unsafe partial class Libc
{
    public const int CLOCK_REALTIME = 0;

    /// <summary>struct timespec on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int clock_settime(int clockId, Timespec* time);

    /// <summary>ioctl on /dev/urandom: mix bytes into the input pool, crediting the given entropy bits.</summary>
    public const ulong RNDADDENTROPY = 0x40085203;

    /// <summary>ioctl on /dev/urandom: reseed the kernel's random number generator from its input pool now.</summary>
    public const ulong RNDRESEEDCRNG = 0x5207;
}
