namespace Moat.Bench;

/// <summary>Where the shim daemon's RSS goes, by mapping, from /proc/PID/smaps.</summary>
internal static class ShimMemory
{
    public const string Code = "its code (file pages of the binary, shared by every shim)";
    public const string ReadOnly = "its read-only data and unwind tables (file pages, shared)";
    public const string Data = "its initialised data (relocated at load)";
    public const string ZeroData = "NativeAOT type data rebuilt at start, and zeroed data (private)";
    public const string Libraries = "C library and loader (file pages, shared)";
    public const string Anonymous = "GC heap, thread stacks, malloc (private)";

    /// <summary>RSS in MiB per category for the shim process <paramref name="pid"/>.</summary>
    public static Dictionary<string, double> Breakdown(int pid)
    {
        var binary = Procs.CommandLine(pid).FirstOrDefault() is { } argv0 ? ExePath(pid, argv0) : "";
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        var previousWasBinary = false;
        foreach (var m in Smaps.Read(pid))
        {
            var ofBinary = m.Path.Length > 0 && m.Path == binary;
            var category = m.Path switch
            {
                _ when ofBinary && m.Perms.Contains('x', StringComparison.Ordinal) => Code,
                _ when ofBinary && m.Perms.StartsWith("r-", StringComparison.Ordinal) => ReadOnly,
                _ when ofBinary => Data,
                // The binary's zero-filled pages (.bss, and NativeAOT's .hydrated, where the type
                // data compressed in the file is rebuilt at start) follow its last file mapping.
                "" when previousWasBinary => ZeroData,
                _ when m.Path.StartsWith('/') => Libraries,
                _ => Anonymous,
            };
            previousWasBinary = ofBinary;
            result[category] = result.GetValueOrDefault(category) + m.Of("Rss") / 1024.0;
        }

        return result;
    }

    private static string ExePath(int pid, string argv0)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget ?? argv0;
        }
        catch (IOException)
        {
            return argv0;
        }
    }
}
