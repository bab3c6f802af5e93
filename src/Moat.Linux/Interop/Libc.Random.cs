using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static unsafe partial class Libc
{
    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint getrandom(byte* buffer, nuint length, uint flags);
}
