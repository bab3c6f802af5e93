using System.Globalization;

namespace Moat.Runtime;

/// <summary>
/// Where a failed (or --debug) VM's console and QEMU's messages are kept for the user: one file
/// per sandbox in the log directory, root-only (the console is the guest's, and may hold what a
/// workload printed), written to a new file and renamed (never through a planted link), and the
/// directory pruned to the newest <see cref="MaxKept"/> so failures cannot fill the disk.
/// </summary>
public static class LogKeeper
{
    public const int MaxKept = 100;

    private const string Suffix = "-console.log";

    /// <summary>Writes <paramref name="text"/> as <c>LOGDIR/NAME-console.log</c> and returns its path, or null when it cannot.</summary>
    public static string? Keep(string logDir, string name, string text)
    {
        try
        {
            const UnixFileMode dirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
            Directory.CreateDirectory(logDir, dirMode);
            File.SetUnixFileMode(logDir, dirMode);
            var path = Path.Combine(logDir, name + Suffix);
            var tmp = Path.Combine(logDir, string.Create(CultureInfo.InvariantCulture, $".{name}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp"));
            using (var f = new FileStream(tmp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, // O_EXCL: a planted file or link makes this fail, not write elsewhere
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            using (var w = new StreamWriter(f))
            {
                w.Write(text);
            }
            File.Move(tmp, path, overwrite: true);
            Prune(logDir);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void Prune(string logDir)
    {
        foreach (var old in new DirectoryInfo(logDir).EnumerateFiles("*" + Suffix).OrderByDescending(f => f.LastWriteTimeUtc).Skip(MaxKept))
        {
            try
            {
                old.Delete();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>
    /// The last lines of a kept console log, for a log that must not flood: at most
    /// <paramref name="maxLines"/> from its last <paramref name="maxBytes"/> (a partial first line
    /// dropped). Nothing when the file is gone.
    /// </summary>
    public static IReadOnlyList<string> Tail(string path, int maxLines = 40, int maxBytes = 8192)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
            var start = Math.Max(0, f.Length - maxBytes);
            f.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[f.Length - start];
            f.ReadExactly(buffer);
            var lines = System.Text.Encoding.UTF8.GetString(buffer).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            if (start > 0)
            {
                lines.RemoveAt(0);
            }
            return lines.Where(l => l.Length > 0).TakeLast(maxLines).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
