namespace Moat.Linux.Interop;

/// <summary>The errno values Moat tests for, by name (x86_64 Linux; checked against the build machine's headers by a test).</summary>
public static partial class Libc
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ECHILD = 10, EAGAIN = 11, EBUSY = 16, EEXIST = 17,
        EXDEV = 18, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EPIPE = 32, ENOSYS = 38, ELOOP = 40;
}
