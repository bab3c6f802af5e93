using System.Text;
using Moat.Linux.Interop;

namespace Moat.Linux;

public static unsafe class Pty
{
    /// <summary>Opens a new pty pair; both fds are O_CLOEXEC.</summary>
    public static (SafeFd Master, SafeFd Slave) Open()
    {
        var master = new SafeFd(ErrnoException.Check(
            Libc.posix_openpt(Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC), "posix_openpt"));
        ErrnoException.Check(Libc.grantpt(master.Fd), "grantpt");
        ErrnoException.Check(Libc.unlockpt(master.Fd), "unlockpt");
        var buf = stackalloc byte[128];
        var rc = Libc.ptsname_r(master.Fd, buf, 128);
        if (rc != 0)
        {
            throw new ErrnoException("ptsname_r", rc);
        }
        var len = new ReadOnlySpan<byte>(buf, 128).IndexOf((byte)0);
        var name = Encoding.UTF8.GetString(buf, len < 0 ? 128 : len);
        var slave = new SafeFd(ErrnoException.Check(
            Libc.open(name, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0), "open", name));
        return (master, slave);
    }

    public static void Resize(int fd, ushort rows, ushort cols)
    {
        var ws = new Libc.winsize { ws_row = rows, ws_col = cols };
        ErrnoException.Check(Libc.ioctl(fd, Libc.TIOCSWINSZ, &ws), "ioctl(TIOCSWINSZ)");
    }

    public static (ushort Rows, ushort Cols)? GetSize(int fd)
    {
        var ws = default(Libc.winsize);
        return Libc.ioctl(fd, Libc.TIOCGWINSZ, &ws) == 0 ? (ws.ws_row, ws.ws_col) : null;
    }
}
