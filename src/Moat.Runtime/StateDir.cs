namespace Moat.Runtime;

/// <summary>
/// Per-sandbox paths: the state directory under the state root, and the QMP and agent sockets in
/// a root-only directory of their own under the node directory (filesystem sockets, checked by
/// the kernel against that directory's permissions: no other user reaches them, unlike abstract
/// names; and short, as a socket path has 108 bytes at most).
/// </summary>
public sealed class StateDir
{
    public StateDir(string stateRoot, string id, string nodeDir)
    {
        Id = id;
        Path = System.IO.Path.Combine(stateRoot, id);
        SocketDir = SocketDirOf(nodeDir, Path);
        QmpSocket = System.IO.Path.Combine(SocketDir, "qmp.sock");
        AgentSocket = System.IO.Path.Combine(SocketDir, "agent.sock");
    }

    public string Id { get; }
    public string Path { get; }
    public string ShareDir => System.IO.Path.Combine(Path, "shared");

    /// <summary>The root-only (0700) directory of this sandbox's VM sockets.</summary>
    public string SocketDir { get; }
    public string QmpSocket { get; }
    public string AgentSocket { get; }

    private static string SocketDirOf(string nodeDir, string statePath) =>
        System.IO.Path.Combine(nodeDir, "vm", NameHash.Hex(statePath, 16));

    private const UnixFileMode RootOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Creates the directory, atomically: an existing one is taken over only when it is this
    /// process's own reservation (<see cref="ReservationFile"/>, from the CLI) or a sandbox whose
    /// owner is gone; anything else under that name is another container's, and left alone.
    /// </summary>
    public void Create()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var self = ProcessIdentity.Self;
        for (var attempt = 0; ; attempt++)
        {
            if (Moat.Linux.Interop.Libc.mkdir(Path, 0x1c0 /* 0700 */) == 0)
            {
                break;
            }
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != Moat.Linux.Interop.Libc.EEXIST)
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"cannot create the state of {Id}: {new Moat.Linux.ErrnoException("mkdir", errno, Path).Message}: pick a writable state root");
            }
            if (ProcessIdentity.Read(System.IO.Path.Combine(Path, ReservationFile)) == self)
            {
                break; // reserved by this very process (moat run ID in the foreground)
            }
            var owner = ProcessIdentity.Read(System.IO.Path.Combine(Path, OwnerFile));
            if (owner is null || ProcessIdentity.IsAlive(owner) || attempt > 0)
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {Id} already exists: delete it first or pick another id");
            }
            Directory.Delete(Path, recursive: true); // a sandbox whose owner died (SIGKILL)
        }
        Moat.Linux.AtomicFile.Write(System.IO.Path.Combine(Path, OwnerFile), self);
        CreateSocketDir();
    }

    /// <summary>The CLI's claim on an id, "pid starttime" of the claiming process, written right after its mkdir.</summary>
    public const string ReservationFile = "reserved";

    /// <summary>(Re)creates the socket directory, 0700 all the way from the node directory down.</summary>
    private void CreateSocketDir()
    {
        var vmRoot = System.IO.Path.GetDirectoryName(SocketDir)!;
        foreach (var dir in new[] { System.IO.Path.GetDirectoryName(vmRoot)!, vmRoot })
        {
            Directory.CreateDirectory(dir, RootOnly);
            File.SetUnixFileMode(dir, RootOnly);
        }
        DeleteIfExists(SocketDir);
        Directory.CreateDirectory(SocketDir, RootOnly);
        // Who owns it, so a sweep can remove it once that process is gone whatever became of the state root.
        Moat.Linux.AtomicFile.Write(System.IO.Path.Combine(SocketDir, OwnerFile), ProcessIdentity.Self, Moat.Linux.AtomicFile.Private);
    }

    /// <summary>
    /// Removes socket directories under <paramref name="nodeDir"/> whose owning process is gone:
    /// a sandbox whose owner was killed and whose state root was then removed by someone else
    /// (so <see cref="SweepStale"/> never met it) would otherwise leave them forever.
    /// </summary>
    /// <returns>The directories it removed.</returns>
    public static IReadOnlyList<string> SweepOrphanSocketDirs(string nodeDir)
    {
        var swept = new List<string>();
        var vm = System.IO.Path.Combine(nodeDir, "vm");
        if (!Directory.Exists(vm))
        {
            return swept;
        }
        foreach (var dir in Directory.EnumerateDirectories(vm))
        {
            if (ProcessIdentity.Read(System.IO.Path.Combine(dir, OwnerFile)) is { } owner && !ProcessIdentity.IsAlive(owner))
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                    swept.Add(dir);
                }
                catch (IOException)
                {
                    // raced with another sweeper
                }
            }
        }
        return swept;
    }

    private static void DeleteIfExists(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private const string OwnerFile = "owner";
    private const string ContainersFile = "containers.json";

    /// <summary>Records the containers in this sandbox (for <c>moat list</c>), by temp file and rename.</summary>
    public void WriteContainers(IReadOnlyList<ContainerRecord> records)
    {
        Moat.Linux.AtomicFile.Write(System.IO.Path.Combine(Path, ContainersFile),
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(records.ToList(), RuntimeJson.Default.ListContainerRecord));
    }

    /// <summary>Every container recorded under <paramref name="stateRoot"/>, with whether its sandbox still runs.</summary>
    public static IReadOnlyList<(ContainerRecord Record, bool Running, string Owner)> List(string stateRoot)
    {
        var found = new List<(ContainerRecord, bool, string)>();
        if (!Directory.Exists(stateRoot))
        {
            return found;
        }
        foreach (var dir in Directory.EnumerateDirectories(stateRoot))
        {
            var file = System.IO.Path.Combine(dir, ContainersFile);
            List<ContainerRecord>? records;
            try
            {
                records = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(file), RuntimeJson.Default.ListContainerRecord);
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
                continue; // a sandbox still starting (no record yet), or debris SweepStale removes once its owner is gone
            }
            var running = OwnerAlive(dir);
            var owner = OwnerName(dir);
            foreach (var r in records ?? [])
            {
                found.Add((r, running && Directory.Exists($"/proc/{r.Pid}"), owner));
            }
        }
        return found;
    }

    /// <summary>The user running the sandbox's owning process (as runc's OWNER column), or "" once it is gone.</summary>
    private static string OwnerName(string dir)
    {
        try
        {
            var pid = File.ReadAllText(System.IO.Path.Combine(dir, OwnerFile)).Trim().Split(' ')[0];
            var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', ' ')
                .Where(f => f.Length > 0).ElementAt(1);
            var user = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid);
            return user?[0] ?? uid;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return "";
        }
    }

    /// <summary>Removes the state of sandboxes whose owning process died without cleaning up (SIGKILL, a reboot).</summary>
    /// <returns>The directories it removed.</returns>
    public static IReadOnlyList<string> SweepStale(string stateRoot, string nodeDir)
    {
        var swept = new List<string>(SweepOrphanSocketDirs(nodeDir));
        if (!Directory.Exists(stateRoot))
        {
            return swept;
        }
        foreach (var dir in Directory.EnumerateDirectories(stateRoot))
        {
            if (File.Exists(System.IO.Path.Combine(dir, OwnerFile)) && !OwnerAlive(dir))
            {
                try
                {
                    DeleteIfExists(SocketDirOf(nodeDir, dir));
                    Directory.Delete(dir, recursive: true);
                    swept.Add(dir);
                }
                catch (IOException)
                {
                    // raced with another sweeper
                }
            }
        }
        return swept;
    }

    private static bool OwnerAlive(string dir) =>
        ProcessIdentity.Read(System.IO.Path.Combine(dir, OwnerFile)) is { } token && ProcessIdentity.IsAlive(token);

    /// <summary>Removes the state directory and the socket directory.</summary>
    public void Remove()
    {
        DeleteIfExists(SocketDir);
        DeleteIfExists(Path);
    }
}
