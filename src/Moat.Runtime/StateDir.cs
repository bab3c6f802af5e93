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

    /// <summary>Creates the directory; an existing one whose owner is gone is stale and replaced.</summary>
    public void Create()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        if (Directory.Exists(Path))
        {
            if (OwnerAlive(Path))
            {
                throw new RuntimeException(RuntimeErrorKind.AlreadyExists, $"container with id {Id} already exists");
            }
            Directory.Delete(Path, recursive: true);
        }
        Directory.CreateDirectory(Path);
        File.WriteAllText(System.IO.Path.Combine(Path, OwnerFile), OwnerToken(Environment.ProcessId) ?? "");
        CreateSocketDir();
    }

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
        var tmp = System.IO.Path.Combine(Path, ContainersFile + ".tmp");
        File.WriteAllBytes(tmp, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(records.ToList(), RuntimeJson.Default.ListContainerRecord));
        File.Move(tmp, System.IO.Path.Combine(Path, ContainersFile), overwrite: true);
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
                continue;
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

    /// <summary>Removes the state of sandboxes whose owning process died without cleaning up (SIGKILL).</summary>
    public static void SweepStale(string stateRoot, string nodeDir)
    {
        if (!Directory.Exists(stateRoot))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(stateRoot))
        {
            if (File.Exists(System.IO.Path.Combine(dir, OwnerFile)) && !OwnerAlive(dir))
            {
                try
                {
                    DeleteIfExists(SocketDirOf(nodeDir, dir));
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                    // raced with another sweeper
                }
            }
        }
    }

    private static bool OwnerAlive(string dir)
    {
        try
        {
            var token = File.ReadAllText(System.IO.Path.Combine(dir, OwnerFile)).Trim();
            var pid = int.Parse(token.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            return OwnerToken(pid) == token;
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>"pid starttime": a pid alone could be reused by an unrelated process.</summary>
    private static string? OwnerToken(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // A zombie has already lost everything it owned; its parent just has not reaped it yet.
            return fields[0] is "Z" or "X" ? null : $"{pid} {fields[19]}";
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Removes the state directory and the socket directory.</summary>
    public void Remove()
    {
        DeleteIfExists(SocketDir);
        DeleteIfExists(Path);
    }
}
