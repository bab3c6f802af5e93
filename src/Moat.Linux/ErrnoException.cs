using System.Runtime.InteropServices;

namespace Moat.Linux;

/// <summary>A failed system call: carries errno, the call and the path or id it acted on.</summary>
public sealed class ErrnoException : IOException
{
    public ErrnoException(string call, int errno, string? subject = null)
        : base(Format(call, errno, subject), errno)
    {
        Call = call;
        Errno = errno;
        Subject = subject;
    }

    public string Call { get; }
    public int Errno { get; }
    public string? Subject { get; }

    private static string Format(string call, int errno, string? subject) =>
        subject is null
            ? $"{call}: {Marshal.GetPInvokeErrorMessage(errno)}"
            : $"{call} {subject}: {Marshal.GetPInvokeErrorMessage(errno)}";

    /// <summary>Throws for a -1 result using the last P/Invoke errno.</summary>
    public static int Check(int result, string call, string? subject = null) =>
        result < 0 ? throw new ErrnoException(call, Marshal.GetLastPInvokeError(), subject) : result;

    public static long Check(long result, string call, string? subject = null) =>
        result < 0 ? throw new ErrnoException(call, Marshal.GetLastPInvokeError(), subject) : result;
}
