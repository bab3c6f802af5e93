using System.Text.Json.Nodes;

namespace Moat.Integration.Tests.Cli;

/// <summary>
/// A private --root for the runc-compatible verbs. Besides what <see cref="MoatEnv"/> checks, the
/// shim daemon's own state (its namespace is derived from the root), every shim and every relay
/// process must be gone after the test.
/// </summary>
public sealed class CliEnv : IAsyncDisposable
{
    private readonly MoatEnv _env = new();

    public string Dir => _env.Dir;
    public string Root => _env.Root;

    /// <summary>Where the shim daemons serving this root keep their sandboxes.</summary>
    public string ShimStateRoot => Path.Combine("/run/moat-node/containerd", "moat-cli-" + global::Moat.Runtime.NameHash.Hex(Path.GetFullPath(Root), 8));

    public Task<string> BundleAsync(string name, string[] args, Action<JsonObject>? edit = null) => _env.BundleAsync(name, args, edit);

    /// <summary>moat --root ROOT ARGS..., stdio from/to files so no relay holds the test's pipes.</summary>
    public async Task<CmdResult> MoatAsync(params string[] args)
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var outFile = Path.Combine(Dir, $"out-{tag}");
        var errFile = Path.Combine(Dir, $"err-{tag}");
        var quoted = string.Join(' ', new[] { Cmd.Moat, "--root", Root }.Concat(args).Select(Quote));
        var r = await Cmd.RunAsync("sh", ["-c", $"{quoted} </dev/null >{outFile} 2>{errFile}"]);
        return new CmdResult(r.ExitCode, File.ReadAllText(outFile), File.ReadAllText(errFile));
    }

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public async Task<JsonObject> StateAsync(string id)
    {
        var r = await MoatAsync("state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    public List<string> Remaining()
    {
        var left = Leftovers.Find(Root);
        left.AddRange(Leftovers.Find(ShimStateRoot).Where(l => !l.StartsWith("socket", StringComparison.Ordinal)));
        left.AddRange(Leftovers.ShimProcesses());
        left.AddRange(Leftovers.RelayProcesses());
        return left;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < 100 && Remaining().Count > 0; i++)
        {
            await Task.Delay(100);
        }
        var left = Remaining();
        if (left.Count > 0)
        {
            foreach (var id in Directory.Exists(Root) ? Directory.EnumerateDirectories(Root).Select(Path.GetFileName) : [])
            {
                await MoatAsync("delete", "--force", id!);
            }
            await Leftovers.ReapAsync(ShimStateRoot);
        }
        await _env.DisposeAsync();
        Assert.True(left.Count == 0, "left behind: " + string.Join("; ", left));
    }
}
