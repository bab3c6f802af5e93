using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>libc entry points; names and constants keep their C spelling.</summary>
public static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_TRUNC = 0x200, O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000,
        O_PATH = 0x200000;

    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_SETPIPE_SZ = 1031, F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    /// <summary>rename(2): atomically replaces <paramref name="newPath"/>, also when both are symlinks to directories (File.Move refuses those).</summary>
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rename(string oldPath, string newPath);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int dirfd, string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup3(int oldfd, int newfd, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, nint arg);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdir(string path, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlink(string target, string linkpath);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chdir(string path);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fchdir(int fd);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chroot(string path);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chown(string path, int uid, int gid);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, int mode);

    [LibraryImport(Lib)]
    public static partial int umask(int mask);

    [LibraryImport(Lib)]
    public static partial void sync();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getpid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getppid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int gettid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    /// <summary>BSD-semantics signal(2) (SA_RESTART); <c>handler</c> 0 is SIG_DFL.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint signal(int signum, nint handler);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int execve(string path, nint* argv, nint* envp);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getuid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int geteuid();

    public const int WNOHANG = 1;

    public const int PR_SET_PDEATHSIG = 1, PR_SET_KEEPCAPS = 8, PR_CAPBSET_READ = 23, PR_CAPBSET_DROP = 24,
        PR_SET_NO_NEW_PRIVS = 38, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_RAISE = 2, PR_CAP_AMBIENT_CLEAR_ALL = 4,
        PR_SET_CHILD_SUBREAPER = 36, PR_SET_NAME = 15, PR_SET_DUMPABLE = 4;

    /// <summary>capset(2) header version with two 32-bit words per set (linux/capability.h).</summary>
    public const uint _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    public const long SYS_pivot_root = 155, SYS_capset = 126, SYS_finit_module = 313, SYS_setns = 308, SYS_pidfd_open = 434;
}
