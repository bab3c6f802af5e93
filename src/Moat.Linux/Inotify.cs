using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>An inotify instance: watches files and reports which watch fired (blocking reads).</summary>
public sealed unsafe partial class Inotify : IDisposable
{
    public const uint IN_MODIFY = 0x2;

    private readonly SafeFd _fd;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_rm_watch(int fd, int wd);

    public Inotify() => _fd = new SafeFd(ErrnoException.Check(inotify_init1(Libc.O_CLOEXEC), "inotify_init1"));

    public int Add(string path, uint mask = IN_MODIFY) => ErrnoException.Check(inotify_add_watch(_fd.Fd, path, mask), "inotify_add_watch", path);

    public void Remove(int wd) => inotify_rm_watch(_fd.Fd, wd);

    /// <summary>Blocks until events arrive; returns the watch descriptors that fired.</summary>
    public List<int> Read()
    {
        var buffer = new byte[4096];
        var n = Pipes.Read(_fd.Fd, buffer);
        var fired = new List<int>();
        for (var off = 0; off + 16 <= n;)
        {
            fired.Add(BitConverter.ToInt32(buffer, off));
            var len = BitConverter.ToInt32(buffer, off + 12);
            off += 16 + len;
        }
        return fired;
    }

    public void Dispose() => _fd.Dispose();
}
