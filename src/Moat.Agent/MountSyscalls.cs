using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>
/// The calls that build a container's filesystem view (mount, mknod and the node's mode and
/// owner). The guest's are <see cref="LibcMountSyscalls"/>; tests record them. Each returns what
/// the syscall returns (0, or -1 with errno set).
/// </summary>
internal interface IMountSyscalls
{
    int Mount(string? source, string target, string? fstype, ulong flags, string? data);

    int Mknod(string path, uint mode, ulong dev);

    int Chmod(string path, int mode);

    int Chown(string path, int uid, int gid);
}

internal sealed class LibcMountSyscalls : IMountSyscalls
{
    public static readonly LibcMountSyscalls Instance = new();

    public int Mount(string? source, string target, string? fstype, ulong flags, string? data) => Libc.mount(source, target, fstype, flags, data);

    public int Mknod(string path, uint mode, ulong dev) => Libc.mknod(path, mode, dev);

    public int Chmod(string path, int mode) => Libc.chmod(path, mode);

    public int Chown(string path, int uid, int gid) => Libc.chown(path, uid, gid);
}
