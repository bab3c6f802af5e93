using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static partial class Libc
{
    /// <summary>personality(2) flag: execve lays the new program out without address-space randomization.</summary>
    public const uint ADDR_NO_RANDOMIZE = 0x0040000;

    /// <summary>Passed to <see cref="personality"/>, reads the current persona without changing it.</summary>
    public const uint PersonalityQuery = 0xffffffff;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int personality(uint persona);
}
