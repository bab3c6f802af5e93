using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// Waits for a process to end through a pidfd: one thread blocked in poll(2) until the process
/// exits or the watch is disposed, so waiting wakes nothing in between (a /proc poll every 250 ms
/// woke the shim's thread pool four times a second for each container).
/// </summary>
public sealed unsafe partial class ProcessExitWatch : IDisposable
{
    private const short POLLIN = 0x1;

    /// <summary>The waiting thread only polls: a small stack, as a pod's shim may watch many.</summary>
    private const int StackBytes = 64 * 1024;

    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SafeFd _cancel;

    private ProcessExitWatch(SafeFd pidfd, SafeFd cancelRead, SafeFd cancelWrite)
    {
        _cancel = cancelWrite;
        new Thread(() => Wait(pidfd, cancelRead), StackBytes) { IsBackground = true, Name = "pidfd-wait" }.Start();
    }

    /// <summary>
    /// Completes when the process has exited; never when the watch was disposed first; faults
    /// (<see cref="ErrnoException"/>) if poll(2) fails.
    /// </summary>
    public Task Exited => _exited.Task;

    /// <summary>
    /// Watches <paramref name="pid"/>; null when no such process exists (it already ended). The
    /// caller checks that the pid still names its process after this returns (a pid can be reused).
    /// </summary>
    public static ProcessExitWatch? Open(int pid)
    {
        var fd = (int)Libc.syscall(Libc.SYS_pidfd_open, pid, 0, 0, 0, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == Libc.ESRCH ? null : throw new ErrnoException("pidfd_open", errno, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var pidfd = new SafeFd(fd);
        SafeFd? read = null, write = null;
        try
        {
            (read, write) = Pipes.Create();
            return new ProcessExitWatch(pidfd, read, write);
        }
        catch
        {
            pidfd.Dispose();
            read?.Dispose();
            write?.Dispose();
            throw;
        }
    }

    private void Wait(SafeFd pidfd, SafeFd cancel)
    {
        using (pidfd)
        using (cancel)
        {
            var fds = stackalloc PollFd[2];
            fds[0] = new PollFd { Fd = pidfd.Fd, Events = POLLIN };
            fds[1] = new PollFd { Fd = cancel.Fd, Events = POLLIN };
            int n;
            while ((n = poll(fds, 2, -1)) < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR)
            {
            }
            if (n < 0)
            {
                _exited.TrySetException(new ErrnoException("poll", Marshal.GetLastPInvokeError(), "pidfd"));
            }
            else if ((fds[0].Revents & POLLIN) != 0)
            {
                _exited.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Stops watching: closing the pipe's write end wakes the waiting thread (POLLHUP), which ends;
    /// <see cref="Exited"/> completes only if the process had ended.
    /// </summary>
    public void Dispose() => _cancel.Dispose();

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint nfds, int timeout);
}
