using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent;

/// <summary>What PID 1 does before serving: a real root mount, the pseudo filesystems, kernel modules.</summary>
internal static class Boot
{
    public static void Init()
    {
        MoveRootOffRamfs();
        Mount("devtmpfs", "/dev", "devtmpfs", Libc.MS_NOSUID, "mode=0755");
        Mount("proc", "/proc", "proc", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null);
        Mount("sysfs", "/sys", "sysfs", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null);
        Directory.CreateDirectory("/dev/pts");
        Mount("devpts", "/dev/pts", "devpts", Libc.MS_NOSUID | Libc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
        Directory.CreateDirectory("/dev/shm");
        Mount("shm", "/dev/shm", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=1777");
        Mount("tmpfs", "/run", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=0755");
        Mount("tmpfs", "/tmp", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=1777");
        Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, null);
        Cgroups.Guest.Init();
        if (!File.Exists("/dev/ptmx"))
        {
            Libc.symlink("pts/ptmx", "/dev/ptmx");
        }
        Log.Debug = File.ReadAllText("/proc/cmdline").Contains("moat.debug", StringComparison.Ordinal);
        var t = Uptime.Milliseconds();
        LoadModules();
        Log.Verbose($"modules loaded in {Uptime.Milliseconds() - t} ms");
    }

    /// <summary>
    /// The initramfs is the kernel's rootfs, which pivot_root cannot leave. Bind it onto itself
    /// and move that mount over "/" (switch_root's dance): containers can then pivot_root.
    /// </summary>
    private static void MoveRootOffRamfs()
    {
        const string newRoot = "/.root";
        Directory.CreateDirectory(newRoot);
        ErrnoException.Check(Libc.mount("/", newRoot, null, Libc.MS_BIND, null), "mount --bind", "/");
        ErrnoException.Check(Libc.chdir(newRoot), "chdir", newRoot);
        ErrnoException.Check(Libc.mount(newRoot, "/", null, Libc.MS_MOVE, null), "mount --move", newRoot);
        ErrnoException.Check(Libc.chroot("."), "chroot", newRoot);
        ErrnoException.Check(Libc.chdir("/"), "chdir", "/");
        // Shared propagation: what the agent mounts later (the 9p share, volumes) also appears in
        // mount namespaces created earlier, such as the standby container-init helper's. Each
        // helper makes its own tree private before it mounts anything, so nothing flows back.
        ErrnoException.Check(Libc.mount(null, "/", null, Libc.MS_REC | Libc.MS_SHARED, null), "mount --make-rshared", "/");
    }

    private static void Mount(string source, string target, string fstype, ulong flags, string? data)
    {
        Directory.CreateDirectory(target);
        if (Libc.mount(source, target, fstype, flags, data) < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Libc.EBUSY /* already mounted */)
            {
                Log.Info(new ErrnoException("mount", errno, $"{fstype} on {target}").Message);
            }
        }
    }

    /// <summary>Loads the modules listed (in dependency order) by the image builder.</summary>
    private static void LoadModules()
    {
        const string list = "/etc/moat/modules";
        if (!File.Exists(list))
        {
            return;
        }
        var release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        foreach (var line in File.ReadAllLines(list))
        {
            var rel = line.Trim();
            if (rel.Length == 0 || rel.StartsWith('#'))
            {
                continue;
            }
            var path = rel.StartsWith('/') ? rel : $"/lib/modules/{release}/{rel}";
            var errno = Modprobe.Load(path);
            if (errno is not 0 and not Libc.EEXIST)
            {
                Log.Info(new ErrnoException("finit_module", errno, path).Message);
            }
        }
        MountModulesDisk(release);
    }

    /// <summary>The virtio-blk disk's serial that names the read-only image of every module of the guest kernel.</summary>
    public const string ModulesDiskSerial = "moat-modules";

    /// <summary>
    /// Mounts the modules disk (an ext4 image of the kernel package's /lib/modules tree, read-only)
    /// over /lib/modules/RELEASE, so /sbin/modprobe can load any module on demand. The boot
    /// modules are loaded by then; a VM without the disk keeps the initrd's few.
    /// </summary>
    private static void MountModulesDisk(string release)
    {
        const string blocks = "/sys/block";
        if (!Directory.Exists(blocks))
        {
            return;
        }
        foreach (var dev in Directory.GetDirectories(blocks))
        {
            var serial = Path.Combine(dev, "serial");
            if (!File.Exists(serial) || File.ReadAllText(serial).Trim() != ModulesDiskSerial)
            {
                continue;
            }
            var target = $"/lib/modules/{release}";
            Directory.CreateDirectory(target);
            Mount($"/dev/{Path.GetFileName(dev)}", target, "ext4", Libc.MS_RDONLY | Libc.MS_NOSUID | Libc.MS_NODEV, "noload");
            return;
        }
    }

    /// <summary>The /dev node of the virtio-serial port named <paramref name="name"/>, once it appears.</summary>
    public static string FindVirtioPort(string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            const string cls = "/sys/class/virtio-ports";
            if (Directory.Exists(cls))
            {
                foreach (var dir in Directory.GetDirectories(cls))
                {
                    var nameFile = Path.Combine(dir, "name");
                    if (File.Exists(nameFile) && File.ReadAllText(nameFile).Trim() == name)
                    {
                        var dev = "/dev/" + Path.GetFileName(dir);
                        if (File.Exists(dev))
                        {
                            return dev;
                        }
                    }
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new FileNotFoundException($"virtio-serial port {name} did not appear");
            }
            Thread.Sleep(5);
        }
    }

    public static void PowerOff()
    {
        Libc.sync();
        Libc.reboot(Libc.RB_POWER_OFF);
    }
}
