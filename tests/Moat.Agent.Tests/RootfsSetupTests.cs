using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Oci;

namespace Moat.Agent.Tests;

/// <summary>
/// What the agent asks of the kernel to build a container's filesystem view, recorded instead of
/// done: the spec's mounts with their flags and data, remounts, /dev's nodes and the spec's
/// devices, every target resolved inside the rootfs. A temp directory stands for the rootfs; no root.
/// </summary>
public sealed class RootfsSetupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("moat-rootfs-").FullName;

    private string Rootfs => Path.Combine(_dir, "rootfs");

    /// <summary>Records each call with its target as a path inside the rootfs (the agent passes /proc/self/fd/N of a handle it resolved there).</summary>
    private sealed class Recorder(string rootfs) : IMountSyscalls
    {
        public List<string> Calls { get; } = [];

        private string Inside(string path)
        {
            var real = path.StartsWith("/proc/self/fd/", StringComparison.Ordinal)
                ? (Path.GetDirectoryName(path) is { } dir && Path.GetFileName(dir) != "fd"
                    ? Path.Combine(new FileInfo(dir).LinkTarget!, Path.GetFileName(path))
                    : new FileInfo(path).LinkTarget!)
                : path;
            return real.StartsWith(rootfs, StringComparison.Ordinal) ? real[rootfs.Length..] : "OUTSIDE " + real;
        }

        public int Mount(string? source, string target, string? fstype, ulong flags, string? data)
        {
            Calls.Add($"mount {source ?? "-"} {Inside(target)} {fstype ?? "-"} 0x{flags:x} {data ?? "-"}");
            return 0;
        }

        public int Mknod(string path, uint mode, ulong dev)
        {
            Calls.Add($"mknod {Inside(path)} 0{Convert.ToString(mode, 8)} {dev}");
            return 0;
        }

        public int Chmod(string path, int mode)
        {
            Calls.Add($"chmod {Inside(path)} 0{Convert.ToString(mode, 8)}");
            return 0;
        }

        public int Chown(string path, int uid, int gid)
        {
            Calls.Add($"chown {Inside(path)} {uid}:{gid}");
            return 0;
        }
    }

    private List<string> Record(Spec spec)
    {
        Directory.CreateDirectory(Rootfs);
        var recorder = new Recorder(Rootfs);
        using var root = InRoot.OpenRoot(Rootfs);
        RootfsSetup.MountSpec(recorder, root, spec);
        return recorder.Calls;
    }

    [Fact]
    public void MountsKeepTheirFlagsAndDataAndAReadOnlyBindIsRemounted()
    {
        var hostname = Path.Combine(_dir, "hostname");
        File.WriteAllText(hostname, "c1\n");
        var calls = Record(new Spec
        {
            Mounts =
            [
                new Mount { Destination = "/proc", Type = "proc", Source = "proc" },
                new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
                new Mount { Destination = "/etc/hostname", Type = "bind", Source = hostname, Options = ["rbind", "ro"] },
            ],
        });
        Assert.Equal("mount proc /proc proc 0x0 -", calls[0]);
        Assert.Equal($"mount tmpfs /dev tmpfs 0x{Libc.MS_NOSUID | Libc.MS_STRICTATIME:x} mode=755,size=65536k", calls[1]);
        Assert.Contains($"mount {hostname} /etc/hostname - 0x{Libc.MS_BIND | Libc.MS_REC:x} -", calls);
        Assert.Contains($"mount - /etc/hostname - 0x{Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY:x} -", calls);
        // /dev is a tmpfs: its default nodes, each 0666 whatever the umask.
        Assert.Contains("mknod /dev/null 020666 259", calls);
        Assert.Contains("chmod /dev/null 0666", calls);
        Assert.True(File.Exists(Path.Combine(Rootfs, "etc", "hostname")), "a bind of a file gets a file to cover");
    }

    [Fact]
    public void ADeviceGetsItsFileModeAndOwner()
    {
        var calls = Record(new Spec
        {
            Linux = new Moat.Oci.Linux { Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229, FileMode = 432 /* 0660 */, Uid = 1000, Gid = 1001 }] },
        });
        Assert.Equal(["mknod /dev/fuse 020660 2789", "chmod /dev/fuse 0660", "chown /dev/fuse 1000:1001"], calls);
    }

    [Fact]
    public void ADestinationThroughASymlinkOutOfTheRootfsStaysInside()
    {
        Directory.CreateDirectory(Rootfs);
        Directory.CreateSymbolicLink(Path.Combine(Rootfs, "escape"), "/etc");
        var calls = Record(new Spec { Mounts = [new Mount { Destination = "/escape/moat-test", Type = "tmpfs", Source = "tmpfs" }] });
        Assert.Equal("mount tmpfs /etc/moat-test tmpfs 0x0 -", Assert.Single(calls));
        Assert.True(Directory.Exists(Path.Combine(Rootfs, "etc", "moat-test")));
        Assert.False(Directory.Exists("/etc/moat-test"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
