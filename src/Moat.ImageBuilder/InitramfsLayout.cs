using System.IO.Compression;

namespace Moat.ImageBuilder;

/// <summary>
/// The set of entries of an initramfs, keyed by guest path. Parent directories are added automatically;
/// entries are written sorted (parents before children) so the archive is deterministic.
/// </summary>
internal sealed class InitramfsLayout
{
    private readonly SortedDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public IEnumerable<string> Paths => _entries.Keys;

    public void AddDirectory(string guestPath, int mode = 0x1ED) => Add(guestPath, new DirectoryEntry(mode));

    public void AddHostFile(string guestPath, string hostPath, int mode = 0x1A4) => Add(guestPath, new HostFileEntry(hostPath, mode));

    public void AddFile(string guestPath, byte[] content, int mode = 0x1A4) => Add(guestPath, new BytesEntry(content, mode));

    public void AddSymlink(string guestPath, string target) => Add(guestPath, new SymlinkEntry(target));

    public void AddCharDevice(string guestPath, int mode, uint major, uint minor) => Add(guestPath, new CharDeviceEntry(mode, major, minor));

    /// <summary>Writes the entries as a newc cpio archive into a gzip file.</summary>
    public void WriteGzip(string path, CompressionLevel level, CancellationToken ct)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        using (var gzip = new GZipStream(file, level, leaveOpen: true))
        {
            WriteCpio(gzip, ct);
        }

        file.Flush(flushToDisk: true);
    }

    public void WriteCpio(Stream output, CancellationToken ct)
    {
        var cpio = new CpioWriter(output);
        foreach (var (name, entry) in _entries)
        {
            ct.ThrowIfCancellationRequested();
            switch (entry)
            {
                case DirectoryEntry d:
                    cpio.AddDirectory(name, d.Mode);
                    break;
                case BytesEntry b:
                    cpio.AddFile(name, b.Content, b.Mode);
                    break;
                case HostFileEntry h:
                    using (var source = File.OpenRead(h.HostPath))
                    {
                        cpio.AddFile(name, source, source.Length, h.Mode);
                    }

                    break;
                case SymlinkEntry s:
                    cpio.AddSymlink(name, s.Target);
                    break;
                case CharDeviceEntry c:
                    cpio.AddCharDevice(name, c.Mode, c.Major, c.Minor);
                    break;
            }
        }

        cpio.Finish();
    }

    private void Add(string guestPath, Entry entry)
    {
        var name = Normalize(guestPath);
        var slash = name.LastIndexOf('/');
        if (slash > 0)
        {
            EnsureDirectory(name[..slash]);
        }

        if (_entries.TryGetValue(name, out var existing))
        {
            if (existing == entry || (existing is DirectoryEntry && entry is DirectoryEntry))
            {
                return;
            }

            throw new GuestImageException($"initrd path '/{name}' added twice with different content");
        }

        _entries[name] = entry;
    }

    private void EnsureDirectory(string name)
    {
        if (_entries.TryGetValue(name, out var existing))
        {
            if (existing is not DirectoryEntry)
            {
                throw new GuestImageException($"initrd path '/{name}' is needed as a directory but was added as a file");
            }

            return;
        }

        var slash = name.LastIndexOf('/');
        if (slash > 0)
        {
            EnsureDirectory(name[..slash]);
        }

        _entries[name] = new DirectoryEntry(0x1ED);
    }

    private static string Normalize(string guestPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(guestPath);
        var parts = guestPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts.Any(p => p is "." or ".."))
        {
            throw new GuestImageException($"invalid initrd path '{guestPath}'");
        }

        return string.Join('/', parts);
    }

    private abstract record Entry;

    private sealed record DirectoryEntry(int Mode) : Entry;

    private sealed record HostFileEntry(string HostPath, int Mode) : Entry;

    private sealed record BytesEntry(byte[] Content, int Mode) : Entry;

    private sealed record SymlinkEntry(string Target) : Entry;

    private sealed record CharDeviceEntry(int Mode, uint Major, uint Minor) : Entry;
}
