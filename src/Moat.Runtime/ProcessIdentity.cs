namespace Moat.Runtime;

/// <summary>
/// "pid starttime": names one process for as long as it lives (a pid alone could be reused by an
/// unrelated process), written into state files as their owner.
/// </summary>
public static class ProcessIdentity
{
    /// <summary>The token of a live process, or null once it is gone (a zombie has already lost everything it owned).</summary>
    public static string? Of(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] is "Z" or "X" ? null : $"{pid} {fields[19]}";
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static string Self => Of(Environment.ProcessId) ?? throw new InvalidOperationException("/proc/self/stat is unreadable");

    /// <summary>Whether the process a token names still runs.</summary>
    public static bool IsAlive(string token)
    {
        var pid = token.Split(' ')[0];
        return int.TryParse(pid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && Of(p) == token.Trim();
    }

    /// <summary>The token written in <paramref name="file"/>, or null when there is none (or it cannot be read).</summary>
    public static string? Read(string file)
    {
        try
        {
            return File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
