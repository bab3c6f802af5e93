using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Protocols.Containerd.Types;

namespace Moat.Shim;

/// <summary>Mounts the rootfs containerd's snapshotter describes onto &lt;bundle&gt;/rootfs, and unmounts it.</summary>
internal static class RootfsMounter
{
    public static bool Mount(string bundle, IReadOnlyList<Mount> mounts)
    {
        if (mounts.Count == 0)
        {
            return false; // the bundle already holds its rootfs
        }
        var target = Path.Combine(bundle, "rootfs");
        Directory.CreateDirectory(target);
        foreach (var m in mounts)
        {
            var opts = MountOptions.Parse(m.Options);
            var type = m.Type == "bind" || opts.Bind ? null : m.Type;
            var flags = opts.Flags | (type is null ? Libc.MS_BIND | (opts.Recursive ? Libc.MS_REC : 0) : 0);
            ErrnoException.Check(Libc.mount(m.Source, target, type, flags, opts.Data.Length == 0 ? null : opts.Data),
                "mount", $"{m.Type} {m.Source} on {target}");
        }
        return true;
    }

    public static void Unmount(string bundle)
    {
        var target = Path.Combine(bundle, "rootfs");
        for (var i = 0; i < 16 && Libc.umount2(target, 0) == 0; i++)
        {
        }
        Libc.umount2(target, Libc.MNT_DETACH);
    }
}
