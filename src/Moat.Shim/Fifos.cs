namespace Moat.Shim;

/// <summary>containerd's stdio: FIFOs (or file:// paths) opened without blocking the RPC for ever.</summary>
internal static class Fifos
{
    public static async Task<Stream?> OpenAsync(string path, FileAccess access, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }
        if (path.StartsWith("file://", StringComparison.Ordinal))
        {
            return new FileStream(path[7..], FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 0);
        }
        if (path.Contains("://", StringComparison.Ordinal))
        {
            throw new Moat.Ttrpc.TtrpcException(Moat.Ttrpc.StatusCode.InvalidArgument,
                $"stdio {path}: only FIFOs and file:// paths are supported by Moat");
        }
        // stdin is opened read-write: that never blocks, even when the client never attaches a writer
        // (ctr without -i); end of input arrives as CloseIO. Output FIFOs block until containerd's
        // reader is there, which it normally already is.
        // Moat's CLI passes its caller's own stdio as /proc/PID/fd/N: that stdin is read-only, so the
        // caller closing it is the container's end of input, as with runc.
        var mode = access == FileAccess.Read && !path.StartsWith("/proc/", StringComparison.Ordinal) ? FileAccess.ReadWrite : access;
        var open = Task.Run(() => (Stream)new FileStream(path, FileMode.Open, mode, FileShare.ReadWrite, 0), ct);
        return await open.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }
}
