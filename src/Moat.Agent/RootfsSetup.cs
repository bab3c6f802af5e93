using System.Runtime.InteropServices;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>
/// Builds the container's filesystem view inside its new mount namespace, as runc does:
/// bind the rootfs, apply the spec's mounts (destinations resolved inside the rootfs without
/// following symlinks out), populate /dev, pivot_root, mask and read-only paths, hostname.
/// </summary>
internal static class RootfsSetup
{
    private static readonly (string Name, uint Major, uint Minor)[] DefaultDevices =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    /// <param name="mark">Called after each step with its name, for the timings in the agent's debug log.</param>
    public static void Prepare(Spec spec, string rootfs, Action<string>? mark = null)
    {
        Check(Libc.mount(null, "/", null, Libc.MS_REC | Libc.MS_PRIVATE, null), "mount --make-rprivate", "/");
        Check(Libc.mount(rootfs, rootfs, null, Libc.MS_BIND | Libc.MS_REC, null), "mount --rbind", rootfs);

        using (var root = InRoot.OpenRoot(rootfs))
        {
            MountSpec(LibcMountSyscalls.Instance, root, spec, mark);
        }

        mark?.Invoke("mounts");
        PivotRoot(rootfs);
        mark?.Invoke("pivot");

        // Before readonlyPaths, which (with Docker) make /proc/sys read-only, as runc orders it.
        WriteSysctls(spec);
        foreach (var p in spec.Linux?.MaskedPaths ?? [])
        {
            MaskPath(p);
        }
        foreach (var p in spec.Linux?.ReadonlyPaths ?? [])
        {
            ReadonlyPath(p);
        }
        mark?.Invoke("masked");
        if (spec.Root?.Readonly == true)
        {
            Check(Libc.mount(null, "/", null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null), "remount read-only", "/");
        }
        SetNames(spec);
    }

    /// <summary>The spec's sysctls, through the /proc this process sees (they apply to the namespaces it is in).</summary>
    internal static void WriteSysctls(Spec spec)
    {
        foreach (var (key, value) in spec.Linux?.Sysctl ?? [])
        {
            File.WriteAllText("/proc/sys/" + key.Replace('.', '/'), value);
        }
    }

    /// <summary>The spec's hostname and domain name, in this process's UTS namespace.</summary>
    internal static void SetNames(Spec spec)
    {
        if (!string.IsNullOrEmpty(spec.Hostname))
        {
            Check(Libc.sethostname(spec.Hostname, System.Text.Encoding.UTF8.GetByteCount(spec.Hostname)), "sethostname", spec.Hostname);
        }
        if (!string.IsNullOrEmpty(spec.Domainname))
        {
            Check(Libc.setdomainname(spec.Domainname, System.Text.Encoding.UTF8.GetByteCount(spec.Domainname)), "setdomainname", spec.Domainname);
        }
    }

    /// <summary>
    /// The spec's mounts, each destination resolved inside <paramref name="root"/>, then /dev's
    /// default nodes (when it is a tmpfs) and the spec's devices: everything before pivot_root.
    /// </summary>
    internal static void MountSpec(IMountSyscalls sys, SafeFd root, Spec spec, Action<string>? mark = null)
    {
        var devIsTmpfs = false;
        foreach (var m in spec.Mounts ?? [])
        {
            MountOne(sys, root, m);
            mark?.Invoke(m.Destination);
            devIsTmpfs |= m.Destination.TrimEnd('/') == "/dev" && m.Type == "tmpfs";
        }
        if (devIsTmpfs)
        {
            PopulateDev(sys, root);
        }
        foreach (var d in spec.Linux?.Devices ?? [])
        {
            MakeDevice(sys, root, d);
        }
    }

    private static void MountOne(IMountSyscalls sys, SafeFd root, Mount m)
    {
        var opts = MountOptions.Parse(m.Options);
        var type = m.Type ?? (opts.Bind ? "bind" : "none");
        var bind = opts.Bind || type == "bind";
        var source = bind ? m.Source ?? throw new InvalidDataException($"mount {m.Destination}: bind mount without source") : null;
        using (var target = InRoot.OpenOrCreate(root, m.Destination, directory: !bind || Directory.Exists(source)))
        {
            if (bind)
            {
                Check(sys.Mount(source, InRoot.ProcPath(target), null, Libc.MS_BIND | (opts.Recursive ? Libc.MS_REC : 0), null), "bind mount", $"{source} on {m.Destination}");
            }
            else
            {
                var fstype = type == "cgroup" ? "cgroup2" : type;
                var data = fstype == "cgroup2" ? null : (opts.Data.Length == 0 ? null : opts.Data);
                var rc = sys.Mount(m.Source ?? fstype, InRoot.ProcPath(target), fstype, opts.Flags, data);
                if (rc < 0 && fstype == "cgroup2")
                {
                    return; // a guest kernel without cgroup2 support still runs the container
                }
                Check(rc, "mount", $"{fstype} on {m.Destination}");
            }
        }
        var remount = bind ? opts.Flags & ~Libc.MS_REMOUNT : 0;
        if (remount == 0 && opts.Propagation == 0)
        {
            return;
        }
        // The new mount covers the destination now: open it again to reach that mount, not the one beneath.
        using var mounted = InRoot.TryOpen(root, m.Destination) ?? throw new InvalidDataException($"mount {m.Destination}: gone after mounting");
        if (remount != 0)
        {
            Check(sys.Mount(null, InRoot.ProcPath(mounted), null, Libc.MS_BIND | Libc.MS_REMOUNT | remount, null), "remount", m.Destination);
        }
        if (opts.Propagation != 0)
        {
            Check(sys.Mount(null, InRoot.ProcPath(mounted), null, opts.Propagation, null), "mount propagation", m.Destination);
        }
    }

    private static void PopulateDev(IMountSyscalls sys, SafeFd root)
    {
        using var dev = InRoot.TryOpen(root, "/dev") ?? throw new InvalidDataException("/dev: gone after mounting");
        var dir = InRoot.ProcPath(dev);
        foreach (var (name, major, minor) in DefaultDevices)
        {
            var path = dir + "/" + name;
            if (!File.Exists(path))
            {
                Check(sys.Mknod(path, 0x2000 /* S_IFCHR */ | DefaultDeviceMode, MakeDev(major, minor)), "mknod", "/dev/" + name);
                sys.Chmod(path, (int)DefaultDeviceMode);
            }
        }
        TrySymlink("/proc/self/fd", dir + "/fd");
        TrySymlink("/proc/self/fd/0", dir + "/stdin");
        TrySymlink("/proc/self/fd/1", dir + "/stdout");
        TrySymlink("/proc/self/fd/2", dir + "/stderr");
        TrySymlink("pts/ptmx", dir + "/ptmx");
        TrySymlink("/proc/kcore", dir + "/core");
    }

    /// <summary>rw-rw-rw-: a device entry without a fileMode.</summary>
    private const uint DefaultDeviceMode = 0x1b6;

    private static void MakeDevice(IMountSyscalls sys, SafeFd root, LinuxDevice d)
    {
        using (var existing = InRoot.TryOpen(root, d.Path))
        {
            if (existing is not null)
            {
                return;
            }
        }
        uint kind = d.Type switch { "c" or "u" => 0x2000, "b" => 0x6000, "p" => 0x1000, _ => 0x2000 };
        using var parent = InRoot.OpenOrCreate(root, Path.GetDirectoryName(d.Path) ?? "/", directory: true);
        var path = InRoot.ProcPath(parent) + "/" + Path.GetFileName(d.Path);
        var mode = d.FileMode ?? DefaultDeviceMode;
        Check(sys.Mknod(path, kind | mode, MakeDev((uint)(d.Major ?? 0), (uint)(d.Minor ?? 0))), "mknod", d.Path);
        // mknod applies the umask (0660 came out 0640): the spec's fileMode is the node's mode, as with runc.
        Check(sys.Chmod(path, (int)mode), "chmod", d.Path);
        sys.Chown(path, (int)(d.Uid ?? 0), (int)(d.Gid ?? 0));
    }

    private static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    private static void TrySymlink(string target, string link)
    {
        if (!File.Exists(link) && !Directory.Exists(link) && new FileInfo(link).LinkTarget is null)
        {
            Libc.symlink(target, link);
        }
    }

    /// <summary>pivot_root(".", ".") and detach the old root, as runc does.</summary>
    private static void PivotRoot(string rootfs)
    {
        var oldRoot = ErrnoException.Check(Libc.open("/", Libc.O_DIRECTORY | Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", "/");
        var newRoot = ErrnoException.Check(Libc.open(rootfs, Libc.O_DIRECTORY | Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", rootfs);
        try
        {
            ErrnoException.Check(Libc.fchdir(newRoot), "fchdir", rootfs);
            var dot = Marshal.StringToCoTaskMemUTF8(".");
            try
            {
                ErrnoException.Check(Libc.syscall(Libc.SYS_pivot_root, dot, dot, 0, 0, 0), "pivot_root", rootfs);
            }
            finally
            {
                Marshal.FreeCoTaskMem(dot);
            }
            ErrnoException.Check(Libc.fchdir(oldRoot), "fchdir", "old root");
            Check(Libc.mount(null, ".", null, Libc.MS_SLAVE | Libc.MS_REC, null), "mount --make-rslave", "old root");
            Check(Libc.umount2(".", Libc.MNT_DETACH), "umount", "old root");
            Check(Libc.chdir("/"), "chdir", "/");
        }
        finally
        {
            Libc.close(oldRoot);
            Libc.close(newRoot);
        }
    }

    private static void MaskPath(string path)
    {
        if (Directory.Exists(path))
        {
            Libc.mount("tmpfs", path, "tmpfs", Libc.MS_RDONLY, null);
        }
        else if (File.Exists(path))
        {
            Libc.mount("/dev/null", path, null, Libc.MS_BIND, null);
        }
    }

    private static void ReadonlyPath(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return;
        }
        Check(Libc.mount(path, path, null, Libc.MS_BIND | Libc.MS_REC, null), "bind mount", path);
        Check(Libc.mount(null, path, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | Libc.MS_REC, null), "remount read-only", path);
    }

    private static void Check(int rc, string what, string subject) => ErrnoException.Check(rc, what, subject);
}
