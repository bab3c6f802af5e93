namespace Moat.Node;

/// <summary>Writes an edited configuration file (containerd's, Docker's) and says what changed.</summary>
public static class ConfigFile
{
    /// <summary>The original, kept once beside the file the first time Moat changes it.</summary>
    public const string BackupSuffix = ".moat-backup";

    /// <summary>
    /// Writes <paramref name="text"/> to <paramref name="path"/> by temp file and rename, keeping the
    /// original once as FILE.moat-backup; nothing is written when there are no changes.
    /// <paramref name="shownPath"/> is how the file is named to the user.
    /// </summary>
    public static void Write(string path, string shownPath, string text, IReadOnlyList<string> changes, Action<string> log)
    {
        if (changes.Count == 0)
        {
            log($"{shownPath}: already configured, nothing changed");
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (File.Exists(path) && !File.Exists(path + BackupSuffix))
        {
            File.Copy(path, path + BackupSuffix);
            log($"kept the original as {shownPath}{BackupSuffix}");
        }
        Moat.Linux.AtomicFile.Write(path, text);
        foreach (var c in changes)
        {
            log($"{shownPath}: {c}");
        }
    }
}
