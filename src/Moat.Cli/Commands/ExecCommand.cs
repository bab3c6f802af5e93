using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Moat.Cli.Runc;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat exec [--process FILE | ARGS...] ID</c>: run another process in a running container.</summary>
internal static class ExecCommand
{
    public static Command Create()
    {
        var process = new Option<string?>("--process", "-p") { Description = "process.json (the OCI process object) instead of ARGS" };
        var detach = new Option<bool>("--detach", "-d") { Description = "do not wait for the process" };
        var pidFile = new Option<string?>("--pid-file") { Description = "file to write the pid of the host process standing for it" };
        var console = new Option<string?>("--console-socket") { Description = "AF_UNIX socket that receives the pty master" };
        var tty = new Option<bool>("--tty", "-t") { Description = "allocate a pty" };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE to set", AllowMultipleArgumentsPerToken = false };
        var cwd = new Option<string?>("--cwd") { Description = "working directory in the container" };
        var user = new Option<string?>("--user", "-u") { Description = "UID[:GID]" };
        var gids = new Option<string[]>("--additional-gids", "-g") { Description = "additional group ids" };
        var noNewPrivs = new Option<bool>("--no-new-privs") { Description = "set no_new_privileges" };
        var preserveFds = new Option<int>("--preserve-fds") { Description = "accepted for runc compatibility" };
        var id = new Argument<string>("container-id");
        var args = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, Description = "command and arguments" };
        var cmd = new Command("exec", "run a process in a running container") { process, detach, pidFile, console, tty, env, cwd, user, gids, noNewPrivs, preserveFds, id, args };
        cmd.TreatUnmatchedTokensAsErrors = true;
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var root = r.GetValue(GlobalOptions.Root)!;
            var containerId = r.GetValue(id)!;
            var rec = CliStore.Read(root, containerId);
            var json = r.GetValue(process) is { } file
                ? ReadProcessFile(file)
                : FromFlags(rec, r.GetValue(args) ?? [], r.GetValue(env) ?? [], r.GetValue(cwd), r.GetValue(user), r.GetValue(gids) ?? [], r.GetValue(tty), r.GetValue(noNewPrivs));
            ContainerTransitions.Check(ContainerOperation.Exec, await ShimConnection.StatusAsync(rec, ct), $"container {containerId}");
            var terminal = (bool?)json["terminal"] ?? false;
            var consoleSocket = r.GetValue(console);
            if (terminal && consoleSocket is null && r.GetValue(detach))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "cannot allocate a tty for a detached exec without --console-socket");
            }
            var execId = "exec-" + Guid.NewGuid().ToString("N")[..16];
            var job = new RelayJob(Path.GetFullPath(root), containerId, rec.Bundle, rec.Namespace, rec.ShimSocket, execId, json.ToJsonString(),
                terminal, terminal ? consoleSocket : null, ForegroundTty: terminal && consoleSocket is null, NewNetworkNamespace: false, NetworkNamespacePath: null, ConfigPath: null);
            var (pid, _) = await RelayLauncher.LaunchAsync(job, daemon: null, beforeGo: null, ct);
            if (r.GetValue(pidFile) is { } pf)
            {
                CliStore.WritePidFile(pf, pid);
            }
            if (r.GetValue(detach))
            {
                return 0;
            }
            using var forward = Lifecycle.ForwardSignalsTo(pid);
            return await Task.Run(() => RelayLauncher.WaitChild(pid), CancellationToken.None);
        }));
        return cmd;
    }

    private static JsonNode ReadProcessFile(string file)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(file)) as JsonObject
                ?? throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--process {file}: not a JSON object: give the OCI process object (as in config.json's \"process\")");
            if (node["args"] is not JsonArray { Count: > 0 })
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--process {file}: args: missing or empty");
            }
            return node;
        }
        catch (JsonException e)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--process {file}: not valid JSON: {e.Message}");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--process {file}: no such file");
        }
    }

    /// <summary>runc's way: the container's own process object, with the command and flags applied.</summary>
    private static JsonNode FromFlags(CliRecord rec, string[] args, string[] env, string? cwd, string? user, string[] gids, bool tty, bool noNewPrivs)
    {
        if (args.Length == 0)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"exec {rec.Id}: no command given: pass ARGS after the id, or --process FILE");
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(rec.Bundle, SpecLoader.ConfigFileName)));
        var p = config?["process"]?.DeepClone() as JsonObject ?? new JsonObject();
        p["args"] = new JsonArray(args.Select(a => (JsonNode)a!).ToArray());
        p["terminal"] = tty;
        p.Remove("consoleSize");
        if (env.Length > 0)
        {
            var list = (p["env"] as JsonArray)?.Select(n => (string)n!).ToList() ?? [];
            foreach (var e in env)
            {
                var key = e.Split('=')[0] + "=";
                list.RemoveAll(x => x.StartsWith(key, StringComparison.Ordinal));
                list.Add(e);
            }
            p["env"] = new JsonArray(list.Select(x => (JsonNode)x!).ToArray());
        }
        if (cwd is not null)
        {
            p["cwd"] = cwd;
        }
        if (user is not null)
        {
            var parts = user.Split(':');
            if (!uint.TryParse(parts[0], out var uid) || (parts.Length > 1 && !uint.TryParse(parts[1], out _)))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--user {user}: give numeric UID[:GID] (names are resolved inside the VM only by the image)");
            }
            p["user"] = new JsonObject { ["uid"] = uid, ["gid"] = parts.Length > 1 ? uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 0u };
        }
        if (gids.Length > 0 && p["user"] is JsonObject u)
        {
            u["additionalGids"] = new JsonArray(gids.Select(g => (JsonNode)uint.Parse(g, System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        }
        if (noNewPrivs)
        {
            p["noNewPrivileges"] = true;
        }
        return p;
    }
}
