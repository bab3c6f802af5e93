using System.Runtime.InteropServices;

namespace Moat.Linux;

/// <summary>Puts a tty in raw mode and restores it on dispose (the caller's terminal while it talks to a guest pty).</summary>
public sealed unsafe partial class Terminal : IDisposable
{
    // glibc's struct termios is 60 bytes on x86_64.
    private const int TermiosSize = 64;
    private readonly int _fd;
    private readonly byte[] _saved = new byte[TermiosSize];
    private bool _restored;

    private Terminal(int fd) => _fd = fd;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int action, byte* termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte* termios);

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>Raw mode on <paramref name="fd"/>, or null when it is not a terminal.</summary>
    public static Terminal? MakeRaw(int fd)
    {
        if (!IsTerminal(fd))
        {
            return null;
        }
        var t = new Terminal(fd);
        var raw = new byte[TermiosSize];
        fixed (byte* saved = t._saved)
        fixed (byte* r = raw)
        {
            ErrnoException.Check(tcgetattr(fd, saved), "tcgetattr");
            Buffer.MemoryCopy(saved, r, TermiosSize, TermiosSize);
            cfmakeraw(r);
            ErrnoException.Check(tcsetattr(fd, 0 /* TCSANOW */, r), "tcsetattr");
        }
        return t;
    }

    public void Dispose()
    {
        if (_restored)
        {
            return;
        }
        _restored = true;
        fixed (byte* saved = _saved)
        {
            tcsetattr(_fd, 0, saved);
        }
    }
}
