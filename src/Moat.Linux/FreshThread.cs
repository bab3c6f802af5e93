using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Runs work that changes the calling thread's namespaces (setns, unshare) on a thread made for
/// it, which then ends: nothing else ever runs with those namespaces. Exceptions are rethrown.
/// </summary>
public static class FreshThread
{
    public static T Run<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 256 * 1024);
        t.Start();
        t.Join();
        return error is null ? result : throw error;
    }

    public static void Run(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    /// <summary>setns into the namespace file <paramref name="path"/> (e.g. /proc/PID/ns/pid) for the calling thread.</summary>
    public static void Enter(string path, int nstype)
    {
        var fd = ErrnoException.Check(Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", path);
        try
        {
            ErrnoException.Check(Libc.setns(fd, nstype), "setns", path);
        }
        finally
        {
            Libc.close(fd);
        }
    }
}
