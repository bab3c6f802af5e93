using System.Text;

namespace Moat.Linux;

/// <summary>
/// Files Moat writes where others may write too (a caller's pid-file directory, /tmp, a state
/// root): the content goes to a fresh, unguessable temp name beside the target, created
/// <c>O_CREAT|O_EXCL</c> (a planted file or link there is an error, never followed or truncated),
/// then <c>rename(2)</c> puts it in place (replacing a link at the target, never writing through it).
/// </summary>
public static class AtomicFile
{
    /// <summary>rw-r--r--.</summary>
    public const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>rw-------.</summary>
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Write(string path, string text, UnixFileMode mode = Readable) => Write(path, Encoding.UTF8.GetBytes(text), mode);

    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode = Readable)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(KernelRandom.Bytes(6))}.tmp");
        try
        {
            CreateNew(tmp, content, mode);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Creates <paramref name="path"/> with <paramref name="content"/>; fails if anything (a file, a link) has the name.</summary>
    public static void CreateNew(string path, ReadOnlySpan<byte> content, UnixFileMode mode = Readable)
    {
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, // O_CREAT|O_EXCL: fails on an existing name, a dangling link included
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = mode,
        });
        file.Write(content);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
