using System.Runtime.InteropServices;
using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Runtime;

/// <summary>
/// <c>moat __vmm</c>: runs between the runtime and QEMU. It dies with the thread that started it
/// (PR_SET_PDEATHSIG), enters a private mount namespace, mounts a tmpfs on the share directory
/// and binds the rootfs and volumes into it, then execs QEMU in that namespace. When QEMU exits,
/// however it exits, the kernel drops those mounts: nothing is left on the host.
/// Input: the <see cref="VmmLaunchSpec"/> JSON on fd 3.
/// </summary>
public static unsafe class VmmHelper
{
    public const string Verb = "__vmm";

    public static int Run()
    {
        try
        {
            ErrnoException.Check(Libc.prctl(Libc.PR_SET_PDEATHSIG, (nuint)Signals.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");
            using var input = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(3, true), FileAccess.Read, 0);
            var spec = JsonSerializer.Deserialize(input, RuntimeJson.Default.VmmLaunchSpec)
                ?? throw new InvalidDataException("empty launch spec");
            if (Libc.getppid() != spec.ParentPid)
            {
                return 1; // the runtime died before we armed PDEATHSIG
            }
            ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWNS), "unshare(CLONE_NEWNS)");
            ErrnoException.Check(Libc.mount(null, "/", null, Libc.MS_REC | Libc.MS_PRIVATE, null), "mount --make-rprivate", "/");
            Directory.CreateDirectory(spec.ShareDir);
            ErrnoException.Check(Libc.mount("moat-share", spec.ShareDir, "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=0755"), "mount tmpfs", spec.ShareDir);
            foreach (var b in spec.Binds)
            {
                Bind(spec.ShareDir, b);
            }
            if (spec.PrivateNetwork)
            {
                ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET)");
            }
            foreach (var tap in spec.Taps)
            {
                if (spec.PrivateNetwork)
                {
                    OpenTap(tap);
                }
                else
                {
                    FreshThread.Run(() =>
                    {
                        FreshThread.Enter(spec.NetnsPath!, Libc.CLONE_NEWNET);
                        OpenTap(tap);
                    });
                }
            }
            using var argv = new NativeStringArray([spec.Binary, .. spec.Args]);
            using var envp = new NativeStringArray(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
            Libc.execve(spec.Binary, argv.Pointer, envp.Pointer);
            throw new ErrnoException("exec", Marshal.GetLastPInvokeError(), spec.Binary);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"moat: vmm launcher: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Opens tap <see cref="TapFd.Name"/> onto its fd number (creating it if the namespace has none).
    /// A pod's taps are opened from a thread that joins the pod's namespace: QEMU then uses the fd
    /// while staying in the host's namespace, where its abstract QMP and agent sockets are.
    /// </summary>
    private static unsafe void OpenTap(TapFd tap)
    {
        var fd = ErrnoException.Check(Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/net/tun");
        var req = stackalloc byte[40];
        new Span<byte>(req, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(tap.Name).CopyTo(new Span<byte>(req, 16));
        *(short*)(req + 16) = 0x0002 | 0x1000 | 0x4000; // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
        ErrnoException.Check(Libc.ioctl(fd, 0x400454ca /* TUNSETIFF */, req), "TUNSETIFF", tap.Name);
        ErrnoException.Check(Libc.dup3(fd, tap.Fd, 0), "dup3", tap.Name); // no O_CLOEXEC: QEMU inherits it
        Libc.close(fd);
    }

    private static void Bind(string shareDir, ShareBind b)
    {
        var target = Path.Combine(shareDir, b.Target);
        if (Directory.Exists(b.Source))
        {
            Directory.CreateDirectory(target);
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target, []);
        }
        ErrnoException.Check(Libc.mount(b.Source, target, null, Libc.MS_BIND | Libc.MS_REC, null), "bind mount", b.Source);
        if (b.ReadOnly)
        {
            ErrnoException.Check(Libc.mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | Libc.MS_REC, null), "remount read-only", b.Source);
        }
    }
}
