using System.Runtime.InteropServices;

namespace Moat.Linux.Interop;

/// <summary>The new mount API (open_tree, move_mount, mount_setattr) and the *at calls used beside it.</summary>
public static unsafe partial class Libc
{
    public const long SYS_open_tree = 428, SYS_move_mount = 429, SYS_mount_setattr = 442;

    public const int OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = O_CLOEXEC;

    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000, AT_RECURSIVE = 0x8000;

    public const int MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;

    public const ulong MOUNT_ATTR_RDONLY = 0x1, MOUNT_ATTR_NOSUID = 0x2, MOUNT_ATTR_NODEV = 0x4;

    /// <summary>openat2 resolve flags: stay under the dirfd, follow no symlink at all, never cross a mount.</summary>
    public const ulong RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;


    [StructLayout(LayoutKind.Sequential)]
    public struct mount_attr
    {
        public ulong attr_set;
        public ulong attr_clr;
        public ulong propagation;
        public ulong userns_fd;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int dirfd, string path, int flags);
}
