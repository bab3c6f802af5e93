namespace Moat.Linux;

/// <summary>Linux x86_64 signal numbers and their names.</summary>
public static class Signals
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGTERM = 15,
        SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGWINCH = 28;

    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
        "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>Parses "9", "KILL", "SIGKILL" (any case), "RTMIN+3".</summary>
    public static bool TryParse(string text, out int signal)
    {
        signal = 0;
        if (int.TryParse(text, out var n))
        {
            if (n is > 0 and <= 64)
            {
                signal = n;
                return true;
            }
            return false;
        }
        var name = text.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal))
        {
            name = name[3..];
        }
        var idx = Array.IndexOf(Names, name);
        if (idx > 0)
        {
            signal = idx;
            return true;
        }
        if (name == "IOT")
        {
            signal = 6;
            return true;
        }
        if (name.StartsWith("RTMIN", StringComparison.Ordinal) || name.StartsWith("RTMAX", StringComparison.Ordinal))
        {
            var baseNum = name.StartsWith("RTMIN", StringComparison.Ordinal) ? 34 : 64;
            var rest = name[5..];
            if (rest.Length == 0)
            {
                signal = baseNum;
                return true;
            }
            if (int.TryParse(rest, out var off) && baseNum + off is >= 34 and <= 64)
            {
                signal = baseNum + off;
                return true;
            }
        }
        return false;
    }

    public static string Name(int signal) =>
        signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : signal.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
