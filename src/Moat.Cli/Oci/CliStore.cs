using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Runtime;

namespace Moat.Cli.Oci;

/// <summary>The CLI's per-container state under --root: one directory per id, state.json written by rename.</summary>
internal static class CliStore
{
    private const string StateFile = "state.json";

    public static string Dir(string root, string id) => Path.Combine(root, id);

    /// <summary>containerd-like namespace of the shim daemons serving one --root.</summary>
    public static string Namespace(string root) => "moat-cli-" + NameHash.Hex(Path.GetFullPath(root), 8);

    /// <summary>Creates --root/ID, failing if the id is taken; a directory left by a dead owner is reclaimed.</summary>
    public static void Reserve(string root, string id)
    {
        try
        {
            Directory.CreateDirectory(root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot use --root {root}: {e.Message}: pick a writable directory");
        }
        var dir = Dir(root, id);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (Libc.mkdir(dir, 0x1c0) == 0)
            {
                return;
            }
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != 17)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot use --root {root}: {new ErrnoException("mkdir", errno, dir).Message}: pick a writable directory");
            }
            if (File.Exists(Path.Combine(dir, StateFile)) || StateDir.List(root).Any(r => r.Record.Id == id && r.Running))
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {id} already exists: delete it first (moat delete {id})");
            }
            StateDir.SweepStale(root, new RuntimeOptions().WithEnvironmentOverrides().NodeDir);
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
            {
                Directory.Delete(dir);
            }
        }
        throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {id} already exists");
    }

    public static void Write(string root, CliRecord record)
    {
        var dir = Dir(root, record.Id);
        var tmp = Path.Combine(dir, StateFile + ".tmp");
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(record, CliJson.Default.CliRecord));
        File.Move(tmp, Path.Combine(dir, StateFile), overwrite: true);
    }

    /// <summary>The record of <paramref name="id"/>; runc's "does not exist" when there is none.</summary>
    public static CliRecord Read(string root, string id)
    {
        Moat.Oci.ContainerId.Validate(id);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(Dir(root, id), StateFile)), CliJson.Default.CliRecord)
                ?? throw new JsonException("empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RuntimeException(RuntimeErrorKind.NotFound, $"container {id} does not exist");
        }
        catch (JsonException e)
        {
            throw new RuntimeException(RuntimeErrorKind.Internal, $"container {id}: {Path.Combine(Dir(root, id), StateFile)} is corrupt ({e.Message}): moat delete --force {id}");
        }
    }

    public static IEnumerable<CliRecord> All(string root)
    {
        if (!Directory.Exists(root))
        {
            yield break;
        }
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var file = Path.Combine(dir, StateFile);
            CliRecord? r = null;
            try
            {
                r = JsonSerializer.Deserialize(File.ReadAllBytes(file), CliJson.Default.CliRecord);
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
            }
            if (r is not null)
            {
                yield return r;
            }
        }
    }

    /// <summary>Host pids of the container's exec relays (one file per running exec).</summary>
    public static string ExecPidFile(string root, string id, string execId) => Path.Combine(Dir(root, id), $"exec-{execId}.pid");

    public static IEnumerable<int> ExecPids(string root, string id) =>
        Directory.Exists(Dir(root, id))
            ? Directory.EnumerateFiles(Dir(root, id), "exec-*.pid")
                .Select(f => int.TryParse(SafeRead(f), out var p) ? p : 0).Where(p => p > 0 && Directory.Exists($"/proc/{p}"))
            : [];

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Writes a pid file as runc does: temp file in the same directory, then rename.</summary>
    public static void WritePidFile(string path, int pid)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp");
        File.WriteAllText(tmp, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Move(tmp, full, overwrite: true);
    }
}
