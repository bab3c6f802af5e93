using Moat.Linux.Interop;

namespace Moat.Linux;

public static unsafe class Pipes
{
    /// <summary>pipe2 with O_CLOEXEC on both ends.</summary>
    public static (SafeFd Read, SafeFd Write) Create()
    {
        int* fds = stackalloc int[2];
        ErrnoException.Check(Libc.pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>
    /// Asks for a pipe buffer of <paramref name="bytes"/> (F_SETPIPE_SZ); keeps the default where
    /// the kernel refuses. Fewer, larger reads matter where every syscall is emulated.
    /// </summary>
    public static void TryGrow(SafeFd pipe, int bytes) => Libc.fcntl(pipe.Fd, Libc.F_SETPIPE_SZ, bytes);

    public static void SetCloexec(int fd, bool on)
    {
        var flags = ErrnoException.Check(Libc.fcntl(fd, Libc.F_GETFD, 0), "fcntl");
        flags = on ? flags | Libc.FD_CLOEXEC : flags & ~Libc.FD_CLOEXEC;
        ErrnoException.Check(Libc.fcntl(fd, Libc.F_SETFD, flags), "fcntl");
    }

    /// <summary>Writes the whole buffer with write(2), retrying on EINTR.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var off = 0;
            while (off < data.Length)
            {
                var n = Libc.write(fd, p + off, data.Length - off);
                if (n < 0)
                {
                    var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    throw new ErrnoException("write", errno);
                }
                off += (int)n;
            }
        }
    }

    /// <summary>read(2) retrying on EINTR; 0 means EOF.</summary>
    public static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Libc.read(fd, p, buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR)
                {
                    throw new ErrnoException("read", errno);
                }
            }
        }
    }
}
