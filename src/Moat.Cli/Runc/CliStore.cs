using System.Text.Json;
using Moat.Linux;
using Moat.Linux.Interop;
using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>The CLI's per-container state under --root: one directory per id, state.json written by rename.</summary>
internal static class CliStore
{
    private const string StateFile = "state.json";

    public static string Dir(string root, string id) => Path.Combine(root, id);

    /// <summary>containerd-like namespace of the shim daemons serving one --root.</summary>
    public static string Namespace(string root) => "moat-cli-" + NameHash.Hex(Path.GetFullPath(root), 8);

    /// <summary>
    /// Claims --root/ID with one mkdir, then marks it with this process's identity
    /// (<see cref="StateDir.ReservationFile"/>). An existing directory is another container's
    /// unless it is plainly dead: a reservation or sandbox whose process is gone and no record.
    /// Nothing else under the name is ever deleted.
    /// </summary>
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
            if (Libc.mkdir(dir, 0x1c0 /* 0700 */) == 0)
            {
                AtomicFile.Write(Path.Combine(dir, StateDir.ReservationFile), ProcessIdentity.Self, AtomicFile.Private);
                return;
            }
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Libc.EEXIST)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot use --root {root}: {new ErrnoException("mkdir", errno, dir).Message}: pick a writable directory");
            }
            if (File.Exists(Path.Combine(dir, StateFile)) || StateDir.List(root).Any(r => r.Record.Id == id && r.Running))
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {id} already exists: delete it first (moat delete {id})");
            }
            SweepStale(root);
            if (!ReclaimDeadReservation(dir))
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {id} already exists (being created or run now): pick another id");
            }
        }
        throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {id} already exists");
    }

    /// <summary>The sandboxes under --root whose owner is gone (SIGKILLed foreground runs): their state and socket directories.</summary>
    private static IReadOnlyList<string> SweepStale(string root) => StateDir.SweepStale(root, new RuntimeOptions().WithEnvironmentOverrides().NodeDir);

    /// <summary>
    /// Removes what a dead process left under --root/ID without a record: the sandbox of a
    /// foreground run killed with SIGKILL (its VM went with it), or its bare claim. True when it
    /// removed something; best effort, as a verb that meets it goes on either way.
    /// </summary>
    public static bool RemoveDeadLeftovers(string root, string id)
    {
        var dir = Dir(root, id);
        try
        {
            return SweepStale(root).Contains(dir) || Directory.Exists(dir) && ReclaimDeadReservation(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Gives up this process's claim on --root/ID (what it ran there is gone); another's is left alone.</summary>
    public static void Release(string root, string id)
    {
        var dir = Dir(root, id);
        var mark = Path.Combine(dir, StateDir.ReservationFile);
        if (ProcessIdentity.Read(mark) != ProcessIdentity.Self)
        {
            return;
        }
        File.Delete(mark);
        try
        {
            Directory.Delete(dir);
        }
        catch (IOException)
        {
            // something else lives there now (a record written meanwhile): it is not ours to remove
        }
    }

    /// <summary>Removes <paramref name="dir"/> if it holds only a reservation whose process is gone; true when the name is free.</summary>
    private static bool ReclaimDeadReservation(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return true;
        }
        var entries = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).ToList();
        var token = ProcessIdentity.Read(Path.Combine(dir, StateDir.ReservationFile));
        if (entries.Any(e => e != StateDir.ReservationFile) || token is not null && ProcessIdentity.IsAlive(token))
        {
            return false;
        }
        if (entries.Count == 0 && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < TimeSpan.FromSeconds(5))
        {
            return false; // a reservation between its mkdir and its mark
        }
        try
        {
            File.Delete(Path.Combine(dir, StateDir.ReservationFile));
            Directory.Delete(dir);
        }
        catch (IOException)
        {
            return false; // someone else reclaimed or wrote it meanwhile
        }
        return true;
    }

    public static void Write(string root, CliRecord record)
    {
        AtomicFile.Write(Path.Combine(Dir(root, record.Id), StateFile), JsonSerializer.SerializeToUtf8Bytes(record, CliJson.Default.CliRecord), AtomicFile.Private);
    }

    /// <summary>The record of <paramref name="id"/>; runc's "does not exist" when there is none.</summary>
    public static CliRecord Read(string root, string id)
    {
        Moat.Oci.ContainerId.Validate(id);
        try
        {
            var r = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(Dir(root, id), StateFile)), CliJson.Default.CliRecord)
                ?? throw new JsonException("empty");
            return r.Id == id ? r : throw new JsonException($"it names container {GuestText.OneLine(r.Id, 80)}");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // A live claim without a record: a foreground run (it keeps its VM to itself) or a create
            // still under way. Still "does not exist", the words runc's callers match on.
            var claim = ProcessIdentity.Read(Path.Combine(Dir(root, id), StateDir.ReservationFile));
            throw new RuntimeException(RuntimeErrorKind.NotFound, claim is not null && ProcessIdentity.IsAlive(claim)
                ? $"container {id} does not exist for this verb: process {claim.Split(' ')[0]} runs it in the foreground (moat run) or is still creating it; signal that process, or use moat run --detach or create and start for a container other verbs can reach"
                : $"container {id} does not exist");
        }
        catch (JsonException e)
        {
            throw new CorruptRecordException($"container {id}: {Path.Combine(Dir(root, id), StateFile)} is corrupt ({GuestText.OneLine(e.Message, 200)}): moat delete --force {id}");
        }
    }

    /// <summary>
    /// Removes the directory of a record that cannot be read (<c>delete --force</c>): nothing in it
    /// says where a daemon would be, and nothing Moat writes is left half-done (records are renamed
    /// into place), so it is debris.
    /// </summary>
    public static void RemoveCorrupt(string root, string id) => Directory.Delete(Dir(root, id), recursive: true);

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
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // a claim without a record yet (a create under way), or a sandbox of moat run
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // runc skips what it cannot read and says so; the rest of the list still prints
                ErrorReporter.Warn($"skipping {file}: {GuestText.OneLine(e.Message, 200)}: moat delete --force {Path.GetFileName(dir)}");
            }
            if (r is not null && r.Id != Path.GetFileName(dir))
            {
                ErrorReporter.Warn($"skipping {file}: it names container {GuestText.OneLine(r.Id, 80)}, not {Path.GetFileName(dir)}: moat delete --force {Path.GetFileName(dir)}");
                r = null;
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

    /// <summary>Writes a pid file as runc does (temp file beside it, then rename), never through a planted link.</summary>
    public static void WritePidFile(string path, int pid)
    {
        try
        {
            AtomicFile.Write(path, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot write --pid-file {path}: {e.Message}: pass a path in a writable directory");
        }
    }
}
