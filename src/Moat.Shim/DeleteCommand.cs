using Moat.Oci;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Linux.Interop;
using Moat.Protocols.Containerd.Task;
using Moat.Runtime;

namespace Moat.Shim;

/// <summary>
/// <c>delete</c>: containerd lost the shim (e.g. SIGKILL). The VM died with the daemon
/// (PR_SET_PDEATHSIG) and so did its mounts; what remains is the rootfs mount on the bundle, the
/// socket and the state directory. Prints the DeleteResponse on stdout.
/// </summary>
internal static class DeleteCommand
{
    public static Task<int> RunAsync(ShimArgs a)
    {
        var rootfs = Path.Combine(a.Bundle, "rootfs");
        if (File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == rootfs))
        {
            Libc.umount2(rootfs, Libc.MNT_DETACH);
        }
        var state = Path.Combine(ShimPaths.StateRoot(a.Namespace), a.Id);
        if (Directory.Exists(state))
        {
            Directory.Delete(state, recursive: true);
        }
        StateDir.SweepStale(ShimPaths.StateRoot(a.Namespace), ShimPaths.NodeDir);
        // The host cgroup the dead daemon's sandbox was placed in (HostCgroup).
        try
        {
            HostCgroup.RemoveLeft(SpecLoader.LoadBundle(a.Bundle).Linux?.CgroupsPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or RuntimeException or Moat.Oci.OciException)
        {
            // no readable spec left, or the group is busy: nothing more to clean
        }
        var socket = ShimPaths.Socket(a.Namespace, a.Id);
        if (File.Exists(socket))
        {
            File.Delete(socket);
        }
        var response = new DeleteResponse { ExitStatus = 128 + 9, ExitedAt = Timestamp.FromDateTime(DateTime.UtcNow) };
        using var stdout = Console.OpenStandardOutput();
        response.WriteTo(stdout);
        return Task.FromResult(0);
    }
}
