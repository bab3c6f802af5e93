namespace Moat.Integration.Tests.Cli;

/// <summary>
/// Plays containerd's runc shim: a subreaper that runs <c>moat create --pid-file</c>, then
/// <c>moat start</c>, and reaps the pid-file process, printing its exit status.
/// </summary>
public static class SubreaperHarness
{
    private const string Script = """
        import ctypes, os, subprocess, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        moat, root, bundle, cid, pidfile, out = sys.argv[1:7]
        with open(out, "wb") as o:
            subprocess.run([moat, "--root", root, "create", "--bundle", bundle, "--pid-file", pidfile, cid], stdin=subprocess.DEVNULL, stdout=o, stderr=o, check=True)
        pid = int(open(pidfile).read())
        subprocess.run([moat, "--root", root, "start", cid], check=True)
        while True:
            p, status = os.waitpid(-1, 0)
            if p == pid:
                break
        print(os.waitstatus_to_exitcode(status))
        """;

    /// <returns>The exit status of the pid-file process (negative: killed by that signal).</returns>
    public static async Task<int> RunAsync(CliEnv env, string bundle, string id, string outputFile)
    {
        var script = Path.Combine(env.Dir, "subreaper.py");
        File.WriteAllText(script, Script);
        var r = await Cmd.RunAsync("python3", [script, Cmd.Moat, env.Root, bundle, id, Path.Combine(env.Dir, id + ".pid"), outputFile]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return int.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
