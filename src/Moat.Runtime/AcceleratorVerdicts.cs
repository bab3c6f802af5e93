using System.Globalization;
using System.Text.Json;
using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>
/// The canary verdicts of this host, one file per accelerator and key, kept on the node's runtime
/// directory (a tmpfs: a reboot forgets them, and the host boot id is in the key anyway). The key
/// is everything that decides whether a guest runs: host boot id and kernel, the QEMU binary, the
/// guest kernel and initrd, the CPU model, the machine type and firmware.
/// </summary>
public sealed class AcceleratorVerdicts
{
    private readonly string _dir;

    public AcceleratorVerdicts(string dir) => _dir = dir;

    public string Directory => _dir;

    /// <summary>The key of a verdict for <paramref name="options"/> booting <paramref name="kernel"/> and <paramref name="initrd"/>.</summary>
    public static string Key(RuntimeOptions options, string kernel, string initrd) => NameHash.Hex(string.Join('\0',
        ReadFirstLine("/proc/sys/kernel/random/boot_id"),
        ReadFirstLine("/proc/sys/kernel/osrelease"),
        FileIdentity(options.QemuBinary),
        FileIdentity(kernel),
        FileIdentity(initrd),
        CpuModel(),
        options.Machine.ToString(),
        options.Firmware.Length > 0 ? FileIdentity(options.Firmware) : "-"), 24);

    public AcceleratorVerdict? Read(Accel accel, string key)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(PathOf(accel, key)), VerdictJson.Default.AcceleratorVerdict);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Records a verdict (temp file, then rename: readers see the old one or the new one).</summary>
    public void Write(Accel accel, string key, AcceleratorVerdict verdict)
    {
        EnsureDirectory();
        var path = PathOf(accel, key);
        var tmp = path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        using (var f = new FileStream(tmp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            f.Write(JsonSerializer.SerializeToUtf8Bytes(verdict, VerdictJson.Default.AcceleratorVerdict));
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Takes the lock that makes one process at a time run the canary for <paramref name="key"/>.</summary>
    public Task<FileStream?> LockAsync(string key, TimeSpan timeout, CancellationToken ct)
    {
        EnsureDirectory();
        return FileLock.AcquireAsync(Path.Combine(_dir, key + ".lock"), timeout, ct);
    }

    /// <summary>The directory for canary VMs' sockets and logs (root only, like the verdicts).</summary>
    public string EnsureDirectory()
    {
        const UnixFileMode rootOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        System.IO.Directory.CreateDirectory(_dir, rootOnly);
        return _dir;
    }

    private string PathOf(Accel accel, string key) =>
        Path.Combine(_dir, $"{key}.{accel.ToString().ToLowerInvariant()}.json");

    private static string ReadFirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault()?.Trim() ?? "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    internal static string FileIdentity(string path)
    {
        var info = new FileInfo(path);
        return info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{info.FullName}:{info.Length}:{info.LastWriteTimeUtc.Ticks}")
            : path + ":missing";
    }

    /// <summary>The first CPU's "model name" and family/model/stepping from /proc/cpuinfo.</summary>
    internal static string CpuModel()
    {
        try
        {
            var fields = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Trim().Length > 0)
                .Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                .Where(p => p[0].Trim() is "vendor_id" or "cpu family" or "model" or "model name" or "stepping")
                .Select(p => p[1].Trim());
            return string.Join('/', fields);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
