using System.CommandLine;
using Moat.Node;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary>
/// <c>moat install containerd|docker|podman</c>: registers Moat in containerd's CRI configuration,
/// Docker's daemon.json or Podman's containers.conf. Idempotent; the original file is kept once as
/// FILE.moat-backup.
/// </summary>
internal static class InstallCommand
{
    public static Command Create()
    {
        var ctdConfig = new Option<string>("--config-file") { Description = "containerd's configuration", DefaultValueFactory = _ => "/etc/containerd/config.toml" };
        var extra = new Option<string[]>("--extra-handler") { Description = "another CRI handler name served by Moat (e.g. kata), with its containerd-shim-NAME-v2 link", AllowMultipleArgumentsPerToken = false };
        var untrusted = new Option<bool>("--untrusted-workload") { Description = "also make Moat containerd's untrusted_workload_runtime" };
        var binDir = new Option<string>("--bin-dir") { Description = "where the extra handlers' shim links go", DefaultValueFactory = _ => "/usr/local/bin" };
        var containerd = new Command("containerd", "add the 'moat' runtime handler to containerd's CRI plugin") { ctdConfig, extra, untrusted, binDir };
        containerd.SetAction(r => ErrorReporter.Guard(() =>
        {
            var path = r.GetValue(ctdConfig)!;
            var handlers = new List<string> { "moat" };
            foreach (var h in r.GetValue(extra) ?? [])
            {
                if (h.Length == 0 || !h.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
                {
                    throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"handler name '{h}' must be lower-case letters, digits and '-'");
                }
                handlers.Add(h);
            }
            var moatConfig = r.GetValue(GlobalOptions.Config) ?? MoatConfig.DefaultPath;
            var (text, changes) = Installer.EditContainerdConfig(File.Exists(path) ? File.ReadAllText(path) : null, path, handlers, r.GetValue(untrusted), moatConfig);
            Write(path, text, changes);
            var shim = Path.Combine(AppContext.BaseDirectory, "containerd-shim-moat-v2");
            foreach (var h in handlers.Skip(1))
            {
                var link = Path.Combine(r.GetValue(binDir)!, $"containerd-shim-{h}-v2");
                if (new FileInfo(link).LinkTarget != shim)
                {
                    File.Delete(link);
                    File.CreateSymbolicLink(link, shim);
                    Console.WriteLine($"linked {link} -> {shim}");
                }
            }
            if (changes.Count > 0)
            {
                Console.WriteLine("restart containerd to use it (systemctl restart containerd)");
            }
            return Task.FromResult(0);
        }));

        var dockerConfig = new Option<string>("--config-file") { Description = "Docker's daemon.json", DefaultValueFactory = _ => "/etc/docker/daemon.json" };
        var name = new Option<string>("--name") { Description = "the runtime's name in 'docker run --runtime=NAME'", DefaultValueFactory = _ => "moat" };
        var docker = new Command("docker", "add the 'moat' runtime to Docker's daemon.json") { dockerConfig, name };
        docker.SetAction(r => ErrorReporter.Guard(() =>
        {
            var path = r.GetValue(dockerConfig)!;
            var moat = Environment.ProcessPath ?? "/usr/local/bin/moat";
            var (text, changes) = Installer.EditDockerConfig(File.Exists(path) ? File.ReadAllText(path) : null, path, r.GetValue(name)!, moat);
            Write(path, text, changes);
            if (changes.Count > 0)
            {
                Console.WriteLine("reload dockerd to use it (systemctl reload docker)");
            }
            return Task.FromResult(0);
        }));
        var podmanConfig = new Option<string>("--config-file") { Description = "Podman's containers.conf", DefaultValueFactory = _ => "/etc/containers/containers.conf" };
        var podmanName = new Option<string>("--name") { Description = "the runtime's name in 'podman run --runtime NAME'", DefaultValueFactory = _ => "moat" };
        var podman = new Command("podman", "add the 'moat' runtime to Podman's containers.conf") { podmanConfig, podmanName };
        podman.SetAction(r => ErrorReporter.Guard(() =>
        {
            var path = r.GetValue(podmanConfig)!;
            var runtimeName = r.GetValue(podmanName)!;
            if (runtimeName.Length == 0 || !runtimeName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"--name '{runtimeName}' must be letters, digits, '-' and '_'");
            }
            var moat = Environment.ProcessPath ?? "/usr/local/bin/moat";
            var (text, changes) = Installer.EditPodmanConfig(File.Exists(path) ? File.ReadAllText(path) : null, path, runtimeName, moat);
            Write(path, text, changes);
            if (changes.Count > 0)
            {
                Console.WriteLine($"podman reads it on its next command: podman run --runtime {runtimeName} ...");
            }
            return Task.FromResult(0);
        }));
        return new Command("install", "register Moat with containerd, Docker or Podman") { containerd, docker, podman };
    }

    private static void Write(string path, string text, IReadOnlyList<string> changes) =>
        ConfigFile.Write(path, path, text, changes, Console.WriteLine);
}
