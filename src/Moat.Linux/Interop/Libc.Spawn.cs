using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

public static unsafe partial class Libc
{
    // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336; both are
    // allocated with room to spare and only touched through these functions.
    public const int SpawnFileActionsSize = 256, SpawnAttrSize = 1024;

    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

    [LibraryImport(Lib)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, nint* argv, nint* envp);

    [LibraryImport(Lib)]
    public static partial int posix_spawnp(int* pid, byte* file, void* fileActions, void* attr, nint* argv, nint* envp);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_init(void* fa);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_destroy(void* fa);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addclose(void* fa, int fd);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addchdir_np(void* fa, byte* path);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [LibraryImport(Lib)]
    public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport(Lib)]
    public static partial int sigemptyset(void* set);

    [LibraryImport(Lib)]
    public static partial int sigfillset(void* set);

    [LibraryImport(Lib)]
    public static partial int sigprocmask(int how, void* set, void* oldset);

    public const int SigSetSize = 128;
}
