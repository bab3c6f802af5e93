using System.Runtime.InteropServices;

namespace Moat.Hypervisor.Interop;

/// <summary>The few libc calls the accelerator probe needs (Linux).</summary>
internal static partial class LibC
{
    internal const int O_RDWR = 0x2;
    internal const int O_CLOEXEC = 0x80000;
    internal const int EINTR = 4;

    /// <summary>Returns a C int: it must not be marshalled straight into a SafeHandle (64-bit handle vs 32-bit -1).</summary>
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(SafeFdHandle fd, nuint request, nint arg);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
