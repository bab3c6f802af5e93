namespace Moat.Integration.Tests.Podman;

/// <summary>
/// Debian's podman 4.3 with conmon, on private storage (--root, --runroot, --tmpdir under a temp
/// dir) and its own containers.conf given the moat runtime by <c>moat install podman</c>; cgroupfs
/// (no systemd here), events to a file, and the local busybox image loaded with <c>podman load</c>.
/// </summary>
public sealed class PodmanFixture : IAsyncLifetime
{
    public const string PodmanCli = "/usr/bin/podman";

    public string Dir { get; } = Directory.CreateTempSubdirectory("moat-podman-").FullName;
    public string Config => Path.Combine(Dir, "containers.conf");

    public async Task InitializeAsync()
    {
        File.WriteAllText(Config, "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n");
        var r = await Cmd.RunAsync(Cmd.Moat, ["install", "podman", "--config-file", Config]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var archive = Path.Combine(Dir, "busybox.tar");
        r = await Cmd.RunAsync(Cmd.Moat, ["image", "archive", archive]);
        Assert.True(r.ExitCode == 0, r.ToString());
        r = await Podman("load", "-i", archive);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    public Task<CmdResult> Podman(params string[] args) => PodmanWithInput(null, args);

    public Task<CmdResult> PodmanWithInput(string? stdin, params string[] args) =>
        Cmd.RunAsync(PodmanCli, [.. GlobalArgs(), .. args], stdin, Env, TimeSpan.FromMinutes(3));

    /// <summary>The global options every podman command of this fixture takes (its storage and state).</summary>
    public IEnumerable<string> GlobalArgs() =>
        ["--root", Path.Combine(Dir, "root"), "--runroot", Path.Combine(Dir, "runroot"), "--tmpdir", Path.Combine(Dir, "tmp")];

    public Dictionary<string, string> Env => new() { ["CONTAINERS_CONF"] = Config };

    public async Task DisposeAsync()
    {
        await Podman("rm", "--all", "--force", "--time", "0");
        // Image layers and the storage's own mounts go with it.
        await Podman("system", "reset", "--force");
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            var mountPoint = line.Split(' ')[4];
            if (mountPoint.StartsWith(Dir, StringComparison.Ordinal))
            {
                await Cmd.RunAsync("umount", ["-l", mountPoint]);
            }
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
