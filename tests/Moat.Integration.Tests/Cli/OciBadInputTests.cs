using System.Text.Json.Nodes;

namespace Moat.Integration.Tests.Cli;

/// <summary>Every bad input: a one-line error in runc's words, a non-zero exit, nothing left behind.</summary>
[Collection("vm")]
public sealed class OciBadInputTests
{
    private static void AssertOneLineError(CmdResult r, string expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains(expected, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task BundleErrorsNameTheBundle()
    {
        await using var env = new CliEnv();
        AssertOneLineError(await env.MoatAsync("create", "--bundle", Path.Combine(env.Dir, "nope"), "c1"), "does not exist");
        var empty = Directory.CreateDirectory(Path.Combine(env.Dir, "empty")).FullName;
        AssertOneLineError(await env.MoatAsync("create", "--bundle", empty, "c1"), "config.json");
        // no --bundle: the current directory (here the test's), which holds no config.json
        AssertOneLineError(await env.MoatAsync("create", "c1"), "config.json");
    }

    [Fact]
    public async Task UnknownVerbFlagAndSignal()
    {
        await using var env = new CliEnv();
        AssertOneLineError(await env.MoatAsync("frobnicate"), "frobnicate");
        AssertOneLineError(await env.MoatAsync("create", "--bogus", "c1"), "--bogus");
        AssertOneLineError(await env.MoatAsync("kill", "c1", "SIGNOPE"), "unknown signal");
        AssertOneLineError(await env.MoatAsync("state", "c1"), "does not exist");
        AssertOneLineError(await env.MoatAsync("--root", "/proc/moat-cannot-be-here", "create", "--bundle", env.Dir, "c1"), "--root");
    }

    [Fact]
    public async Task SharedPropagationWithTheHostIsRefusedNamingTheMount()
    {
        await using var env = new CliEnv();
        var vol = Directory.CreateDirectory(Path.Combine(env.Dir, "vol")).FullName;
        var bundle = await env.BundleAsync("b", ["true"], cfg => cfg["mounts"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject
        {
            ["destination"] = "/vol",
            ["type"] = "bind",
            ["source"] = vol,
            ["options"] = new System.Text.Json.Nodes.JsonArray("rbind", "rshared"),
        }));
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "shared"), "the bind mount on /vol asks for rshared propagation");
        AssertOneLineError(await env.MoatAsync("run", "--bundle", bundle, "shared-fg"), "the bind mount on /vol asks for rshared propagation");
    }

    [Fact]
    public async Task IdInUseAndProcessFileThatIsNotJson()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", "while true; do sleep 0.1; done"]);
        Assert.Equal(0, (await env.MoatAsync("run", "-d", "--bundle", bundle, "dup")).ExitCode);
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "dup"), "already exists");
        var notJson = Path.Combine(env.Dir, "process.json");
        File.WriteAllText(notJson, "{ this is not json");
        AssertOneLineError(await env.MoatAsync("exec", "--process", notJson, "dup"), "not valid JSON");
        Assert.Equal(0, (await env.MoatAsync("delete", "-f", "dup")).ExitCode);
    }

    [Fact]
    public async Task AMissingProgramFailsCreateAndLeavesNothing()
    {
        // As runc's init: the program is looked up before create returns, so a caller cleans up a
        // failed create instead of holding a task whose start cannot work.
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["/nonexistent/program"]);
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "missing"), "exec \"/nonexistent/program\": No such file or directory");
        AssertOneLineError(await env.MoatAsync("state", "missing"), "does not exist");
        bundle = await env.BundleAsync("p", ["no-such-command"]);
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "missing"), "executable file not found in $PATH");
        // Issue 16 item 10: a binary copied into the bundle just before create that execve cannot
        // find although it is there: it is dynamically linked, and the image has no loader. The
        // error names the loader (or a script's interpreter) instead of the program.
        bundle = await env.BundleAsync("d", ["/runtimetest"]);
        File.Copy("/bin/ls", Path.Combine(bundle, "rootfs", "runtimetest"));
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "missing"),
            "exec \"/runtimetest\": No such file or directory: it needs /lib64/ld-linux-x86-64.so.2, which is not in the container's root");
        bundle = await env.BundleAsync("s", ["/script"]);
        File.WriteAllText(Path.Combine(bundle, "rootfs", "script"), "#!/bin/bash\necho hi\n");
        File.SetUnixFileMode(Path.Combine(bundle, "rootfs", "script"), (UnixFileMode)0x1ed);
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "missing"), "it needs /bin/bash, which is not in the container's root");
        // There but not executable (runc's LookPath wants an execute bit): create fails too.
        bundle = await env.BundleAsync("x", ["/etc/passwd"]);
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "missing"), "exec \"/etc/passwd\": Permission denied");
        // CliEnv's disposal finds no shim, relay, VM or state left by any
    }

    [Fact]
    public async Task AFailingCreateHookFailsCreateAndLeavesNothing()
    {
        // The shim daemon starts while the hooks run: a hook that fails must take it down too.
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["true"], spec =>
            spec["hooks"] = new JsonObject
            {
                ["createRuntime"] = new JsonArray(new JsonObject
                {
                    ["path"] = "/bin/sh",
                    ["args"] = new JsonArray("sh", "-c", "echo no network for you >&2; exit 3"),
                }),
            });
        AssertOneLineError(await env.MoatAsync("create", "--bundle", bundle, "hooked"),
            "createRuntime hook #0 (/bin/sh) failed with exit status 3: no network for you");
        AssertOneLineError(await env.MoatAsync("state", "hooked"), "does not exist");
        // CliEnv's disposal finds no shim daemon socket, relay, VM or state left
    }

    [Fact]
    public async Task AProgramThatCannotBeExecedFailsStartAndLeavesTheContainerStoppedForDelete()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["/not-executable"]);
        // Executable, but no program: runc's look-up passes and execve refuses it at start.
        File.WriteAllText(Path.Combine(bundle, "rootfs", "not-executable"), "just text\n");
        File.SetUnixFileMode(Path.Combine(bundle, "rootfs", "not-executable"), (UnixFileMode)0x1ed);
        Assert.Equal(0, (await env.MoatAsync("create", "--bundle", bundle, "noexec")).ExitCode);
        var relay = System.Text.Json.Nodes.JsonNode.Parse((await env.MoatAsync("state", "noexec")).Stdout)!["pid"]!.GetValue<int>();
        AssertOneLineError(await env.MoatAsync("start", "noexec"), "exec \"/not-executable\": Exec format error");
        Assert.Null(global::Moat.Runtime.ProcessIdentity.Of(relay)); // exited (a zombie at most) before start returned
        // As runc: the init is gone, the container stopped with a shell's status, and its relay
        // (the pid a caller waits for) already gone when start returns; a plain delete takes it
        // (Docker deletes only stopped tasks, right after the failed start).
        var state = System.Text.Json.Nodes.JsonNode.Parse((await env.MoatAsync("state", "noexec")).Stdout)!;
        Assert.Equal("stopped", state["status"]!.GetValue<string>());
        AssertOneLineError(await env.MoatAsync("start", "noexec"), "stopped");
        var delete = await env.MoatAsync("delete", "noexec");
        Assert.True(delete.ExitCode == 0, delete.ToString());
    }

    [Fact]
    public async Task JsonLogFormatWritesTheErrorToTheLogFile()
    {
        await using var env = new CliEnv();
        var log = Path.Combine(env.Dir, "log.json");
        var r = await env.MoatAsync("--log", log, "--log-format", "json", "state", "missing");
        Assert.NotEqual(0, r.ExitCode);
        var line = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllLines(log).Single())!;
        Assert.Equal("error", (string?)line["level"]);
        Assert.Contains("does not exist", (string?)line["msg"]);
    }
}
