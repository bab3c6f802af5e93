namespace Moat.Runtime;

/// <summary>
/// An exclusive advisory lock on a file (flock through <see cref="FileShare.None"/>), waited for
/// up to a deadline. Held by an open file description, so two holders in one process exclude each
/// other as two processes do; the kernel drops it when the holder dies.
/// </summary>
internal static class FileLock
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);

    /// <summary>Takes the lock on <paramref name="path"/> (created 0600 if missing), or null when <paramref name="timeout"/> passes first.</summary>
    public static async Task<FileStream?> AcquireAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(Poll, ct).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }
}
