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

        var devIsTmpfs = false;
        foreach (var m in spec.Mounts ?? [])
        {
            MountOne(rootfs, m);
            devIsTmpfs |= m.Destination.TrimEnd('/') == "/dev" && m.Type == "tmpfs";
        }
        if (devIsTmpfs)
        {
            PopulateDev(rootfs);
        }
        foreach (var d in spec.Linux?.Devices ?? [])
        {
            MakeDevice(rootfs, d);
        }

        mark?.Invoke("mounts");
        PivotRoot(rootfs);
        mark?.Invoke("pivot");

        // Before readonlyPaths, which (with Docker) make /proc/sys read-only, as runc orders it.
        foreach (var (key, value) in spec.Linux?.Sysctl ?? [])
        {
            File.WriteAllText("/proc/sys/" + key.Replace('.', '/'), value);
        }
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
        if (!string.IsNullOrEmpty(spec.Hostname))
        {
            Check(Libc.sethostname(spec.Hostname, System.Text.Encoding.UTF8.GetByteCount(spec.Hostname)), "sethostname", spec.Hostname);
        }
        if (!string.IsNullOrEmpty(spec.Domainname))
        {
            Check(Libc.setdomainname(spec.Domainname, System.Text.Encoding.UTF8.GetByteCount(spec.Domainname)), "setdomainname", spec.Domainname);
        }
    }

    private static void MountOne(string rootfs, Mount m)
    {
        var dest = SecureJoin.Join(rootfs, m.Destination);
        var opts = MountOptions.Parse(m.Options);
        var type = m.Type ?? (opts.Bind ? "bind" : "none");
        if (opts.Bind || type == "bind")
        {
            var source = m.Source ?? throw new InvalidDataException($"mount {m.Destination}: bind mount without source");
            if (Directory.Exists(source))
            {
                Directory.CreateDirectory(dest);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
                if (!File.Exists(dest) && !Directory.Exists(dest))
                {
                    File.WriteAllBytes(dest, []);
                }
            }
            Check(Libc.mount(source, dest, null, Libc.MS_BIND | (opts.Recursive ? Libc.MS_REC : 0), null), "bind mount", $"{source} on {m.Destination}");
            var flags = opts.Flags & ~Libc.MS_REMOUNT;
            if (flags != 0)
            {
                Check(Libc.mount(null, dest, null, Libc.MS_BIND | Libc.MS_REMOUNT | flags, null), "remount", m.Destination);
            }
        }
        else
        {
            Directory.CreateDirectory(dest);
            var fstype = type switch
            {
                "cgroup" => "cgroup2",
                _ => type,
            };
            var data = fstype == "cgroup2" ? null : (opts.Data.Length == 0 ? null : opts.Data);
            var rc = Libc.mount(m.Source ?? fstype, dest, fstype, opts.Flags, data);
            if (rc < 0 && fstype == "cgroup2")
            {
                return; // a guest kernel without cgroup2 support still runs the container
            }
            Check(rc, "mount", $"{fstype} on {m.Destination}");
        }
        if (opts.Propagation != 0)
        {
            Check(Libc.mount(null, dest, null, opts.Propagation, null), "mount propagation", m.Destination);
        }
    }

    private static void PopulateDev(string rootfs)
    {
        foreach (var (name, major, minor) in DefaultDevices)
        {
            var path = rootfs + "/dev/" + name;
            if (!File.Exists(path))
            {
                Check(Libc.mknod(path, 0x2000 /* S_IFCHR */ | 0x1b6 /* 0666 */, MakeDev(major, minor)), "mknod", path);
                Libc.chmod(path, 0x1b6);
            }
        }
        TrySymlink("/proc/self/fd", rootfs + "/dev/fd");
        TrySymlink("/proc/self/fd/0", rootfs + "/dev/stdin");
        TrySymlink("/proc/self/fd/1", rootfs + "/dev/stdout");
        TrySymlink("/proc/self/fd/2", rootfs + "/dev/stderr");
        TrySymlink("pts/ptmx", rootfs + "/dev/ptmx");
        TrySymlink("/proc/kcore", rootfs + "/dev/core");
    }

    private static void MakeDevice(string rootfs, LinuxDevice d)
    {
        var path = SecureJoin.Join(rootfs, d.Path);
        if (File.Exists(path))
        {
            return;
        }
        uint kind = d.Type switch { "c" or "u" => 0x2000, "b" => 0x6000, "p" => 0x1000, _ => 0x2000 };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Check(Libc.mknod(path, kind | (d.FileMode ?? 0x1b6), MakeDev((uint)(d.Major ?? 0), (uint)(d.Minor ?? 0))), "mknod", d.Path);
        Libc.chown(path, (int)(d.Uid ?? 0), (int)(d.Gid ?? 0));
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
