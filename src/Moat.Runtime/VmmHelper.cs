using System.Runtime.InteropServices;
using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>
/// The VMM launcher (<c>moat-vmm</c>, or <c>moat __vmm</c> without it): runs between the runtime and QEMU. It dies with the thread that started it
/// (PR_SET_PDEATHSIG), enters a private mount namespace, mounts a tmpfs on the share directory
/// and binds the rootfs and volumes into it, then execs QEMU in that namespace. When QEMU exits,
/// however it exits, the kernel drops those mounts: nothing is left on the host.
/// Input: the <see cref="VmmLaunchSpec"/> JSON on fd 3.
/// </summary>
public static unsafe class VmmHelper
{
    public const string Verb = "__vmm";

    /// <summary>The launcher's own executable, installed beside moat and the shim.</summary>
    public const string Binary = "moat-vmm";

    /// <summary>The share's tmpfs: mode, and a size and inode count far above what mountpoints need.</summary>
    internal const string ShareTmpfsOptions = "mode=0755,size=4m,nr_inodes=16384";

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
            // Only mountpoints live on it, but the guest can write it: bounded in bytes and inodes.
            ErrnoException.Check(Libc.mount("moat-share", spec.ShareDir, "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC, ShareTmpfsOptions), "mount tmpfs", spec.ShareDir);
            foreach (var b in spec.Binds)
            {
                Bind(spec.ShareDir, b);
            }
            if (spec.PrivateNetwork)
            {
                // A template VM: its taps are made in a network namespace of its own.
                ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET)");
                foreach (var tap in spec.Taps)
                {
                    OpenTap(tap);
                }
            }
            else
            {
                foreach (var tap in spec.Taps)
                {
                    FreshThread.Run(() =>
                    {
                        FreshThread.Enter(spec.NetnsPath!, Libc.CLONE_NEWNET);
                        OpenTap(tap);
                    });
                }
                // QEMU needs no network of its own: the taps are fds, its sockets are files.
                ErrnoException.Check(Libc.unshare(Libc.CLONE_NEWNET), "unshare(CLONE_NEWNET)");
            }
            if (spec.IncomingStatePath is { } state)
            {
                var fd = ErrnoException.Check(Libc.open(state, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), "open", state);
                ErrnoException.Check(Libc.dup3(fd, Moat.Hypervisor.VmConfig.IncomingStateFd, 0), "dup3", state); // no O_CLOEXEC: QEMU inherits it
                Libc.close(fd);
            }
            if (spec.Confine)
            {
                VmmConfinement.Apply();
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

    /// <summary>
    /// Binds a source under the share: cloned nosuid and nodev (read-only at every level for a
    /// read-only volume), attached on a target created under the share root without following
    /// links. Before QEMU runs, nobody else writes the share; the same code serves later binds,
    /// when the guest can (<see cref="CrossNamespaceMount"/>).
    /// </summary>
    private static void Bind(string shareDir, ShareBind b)
    {
        using var tree = CrossNamespaceMount.CloneTree(b.Source, b.ReadOnly);
        CrossNamespaceMount.Attach(tree, shareDir, b.Target, Directory.Exists(b.Source));
    }
}
