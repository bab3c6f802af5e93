namespace Moat.Integration.Tests.Cli;

/// <summary>
/// Faults a runc caller meets between its own calls (issue 18): after create and before start,
/// QEMU, the shim daemon or the pid-file process (the relay) SIGKILLed. The container's process
/// ends, the status says stopped, start refuses in one line, delete works without --force, the id
/// runs again at once and the census finds nothing left.
/// </summary>
[Collection("vm")]
public sealed class CliFaultTests
{
    private static string Id() => "cli-" + Guid.NewGuid().ToString("N")[..10];

    [Theory]
    [InlineData("qemu")]
    [InlineData("shim")]
    [InlineData("relay")]
    public async Task AKillBetweenCreateAndStartLeavesAStoppedContainerThatDeletes(string victim)
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["echo", "never"]);
        var id = Id();
        var pidFile = Path.Combine(env.Dir, "pid");
        var r = await env.MoatAsync("create", "--bundle", bundle, "--pid-file", pidFile, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var pid = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);

        switch (victim)
        {
            case "qemu":
                Leftovers.KillQemuNaming(id);
                break;
            case "shim":
                Leftovers.KillTheOnlyShim();
                break;
            default:
                System.Diagnostics.Process.GetProcessById(pid).Kill();
                break;
        }

        for (var i = 0; i < 300 && Directory.Exists($"/proc/{pid}"); i++)
        {
            await Task.Delay(100);
        }
        Assert.False(Directory.Exists($"/proc/{pid}"), "the container's process must end with its VM");
        await OciLifecycleTests.WaitForAsync(env, id, "stopped");
        r = await env.MoatAsync("start", id);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Contains("stopped", r.Stderr);
        Assert.Equal(0, (await env.MoatAsync("delete", id)).ExitCode);
        r = await env.MoatAsync("state", id);
        Assert.Contains("does not exist", r.Stderr);
        // The id is free at once.
        r = await env.MoatAsync("run", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0 && r.Stdout == "never\n", r.ToString());
    }
}
