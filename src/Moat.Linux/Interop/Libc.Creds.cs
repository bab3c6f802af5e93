using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static unsafe partial class Libc
{
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setgroups(nint size, uint* list);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setresuid(uint ruid, uint euid, uint suid);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setresgid(uint rgid, uint egid, uint sgid);

    [StructLayout(LayoutKind.Sequential)]
    public struct rlimit
    {
        public ulong rlim_cur;
        public ulong rlim_max;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setrlimit(int resource, rlimit* rlim);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int reboot(int cmd);

    public const int RB_POWER_OFF = 0x4321fedc, RB_AUTOBOOT = 0x01234567;
}
