using System.CommandLine;
using Moat.ImageBuilder;
using Spectre.Console;

namespace Moat.Cli.Commands;

/// <summary><c>moat image build</c>: guest kernel + initrd from Debian's kernel package and the agent.</summary>
internal static class ImageCommand
{
    public static Command Create()
    {
        var agent = new Option<string?>("--agent") { Description = "agent executable (default: moat-agent next to moat)" };
        var kernelDeb = new Option<string?>("--kernel-deb") { Description = "use this linux-image .deb instead of downloading one" };
        var force = new Option<bool>("--force") { Description = "rebuild even when the inputs did not change" };
        var noTemplates = new Option<bool>("--no-templates") { Description = "do not make the VM templates of the common shapes now ('moat image templates' does, or each shape's first start)" };
        var build = new Command("build", "build the guest kernel and initrd (rebuilt only when an input changes), then the VM templates of the common shapes")
        {
            agent, kernelDeb, force, noTemplates,
        };
        build.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            var agentPath = r.GetValue(agent) ?? Path.Combine(AppContext.BaseDirectory, "moat-agent");
            if (!File.Exists(agentPath))
            {
                Console.Error.WriteLine($"moat: agent executable {agentPath} not found: pass --agent PATH or reinstall Moat");
                return 1;
            }
            var builder = new GuestImageBuilder(new GuestBuildOptions
            {
                DataDir = r.GetValue(GlobalOptions.DataDir)!,
                AgentPath = agentPath,
                KernelDeb = r.GetValue(kernelDeb),
                Force = r.GetValue(force),
            });
            var image = await BuildWithProgress(builder, ct);
            if (image.Rebuilt)
            {
                // VM templates were saved from the previous image: never restored again, so dropped.
                new Moat.Runtime.VmTemplates(new Moat.Runtime.RuntimeOptions { DataDir = r.GetValue(GlobalOptions.DataDir)! }.TemplateDir).Clear();
            }
            Console.WriteLine(image.Rebuilt
                ? $"guest image built: {image.Directory} (kernel {image.KernelVersion})"
                : $"guest image up to date: {image.Directory} (kernel {image.KernelVersion})");
            await DecideAcceleratorAsync(r, ct);
            if (!r.GetValue(noTemplates))
            {
                await MakeTemplatesAsync(r, ct);
            }
            return 0;
        }));
        var dir = new Argument<string>("bundle-dir") { Description = "directory to create the bundle in" };
        var cmdArgs = new Argument<string[]>("command") { Description = "the container's command (default: sh)", Arity = ArgumentArity.ZeroOrMore };
        var tty = new Option<bool>("--tty", "-t") { Description = "set process.terminal" };
        var busybox = new Command("busybox", "create an OCI bundle of Moat's built-in busybox image") { dir, cmdArgs, tty };
        busybox.SetAction(r => ErrorReporter.Guard(() =>
        {
            var command = r.GetValue(cmdArgs) is { Length: > 0 } c ? c : ["sh"];
            Moat.Node.BusyboxBundle.Create(r.GetValue(dir)!, command, terminal: r.GetValue(tty));
            return Task.FromResult(0);
        }));
        var output = new Argument<string>("output") { Description = "tar file to write" };
        var name = new Option<string>("--name") { Description = "image reference", DefaultValueFactory = _ => "busybox:latest" };
        var imgCmd = new Option<string[]>("--cmd") { Description = "the image's default command", DefaultValueFactory = _ => ["sh"], AllowMultipleArgumentsPerToken = true };
        var archive = new Command("archive", "write the built-in busybox image as an archive for 'ctr images import' and 'docker load'") { output, name, imgCmd };
        archive.SetAction(r => ErrorReporter.Guard(() =>
        {
            var tmp = Directory.CreateTempSubdirectory("moat-image-");
            try
            {
                Moat.Node.BusyboxBundle.Create(tmp.FullName, ["sh"]);
                Moat.Node.ImageArchive.Write(Path.Combine(tmp.FullName, "rootfs"), r.GetValue(name)!, r.GetValue(imgCmd)!, r.GetValue(output)!);
            }
            finally
            {
                tmp.Delete(recursive: true);
            }
            return Task.FromResult(0);
        }));
        var installerOutput = new Argument<string>("output") { Description = "tar file to write" };
        var installerName = new Option<string>("--name") { Description = "image reference", DefaultValueFactory = _ => Moat.Node.Deploy.InstallerImage.DefaultReference };
        var installer = new Command("installer", "write the node installer image (this Moat and its guest image) for deploy/moat-deploy.yaml") { installerOutput, installerName };
        installer.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            await Moat.Node.Deploy.InstallerImage.WriteAsync(AppContext.BaseDirectory, r.GetValue(GlobalOptions.DataDir)!, r.GetValue(installerName)!, r.GetValue(installerOutput)!, ct);
            Console.WriteLine($"wrote {r.GetValue(installerOutput)} ({r.GetValue(installerName)}): ctr -n k8s.io images import it on each node, or push it to your registry");
            return 0;
        }));
        var templates = new Command("templates", "make the VM templates of the common shapes (a container, one with a network, a pod) that have none");
        templates.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            await MakeTemplatesAsync(r, ct);
            return 0;
        }));
        var image = new Command("image", "manage the guest image, its VM templates, the built-in busybox image and the installer image")
        {
            build, templates, busybox, archive, installer,
        };
        return image;
    }

    /// <summary>
    /// Runs the KVM canary on the new image when no verdict is cached (once per host boot), so the
    /// first container does not pay for it, and says which accelerator VMs will use.
    /// </summary>
    private static async Task DecideAcceleratorAsync(ParseResult r, CancellationToken ct)
    {
        var options = GlobalOptions.RuntimeOptions(r);
        try
        {
            var (kernel, initrd, _) = Moat.Runtime.GuestImagePaths.Resolve(options);
            var log = new Moat.Runtime.PhaseLog(Console.Error.WriteLine);
            var decision = await Moat.Runtime.QemuAcceleratorHost.Selection(options, kernel, initrd, log).DecideAsync(ct);
            Console.WriteLine($"accelerator: {decision.Accel.ToString().ToUpperInvariant()} ({decision.Reason})");
        }
        catch (Moat.Runtime.RuntimeException e)
        {
            Console.Error.WriteLine($"moat: warning: {e.Message}");
        }
    }

    /// <summary>
    /// Makes the VM templates of the common shapes (<see cref="Moat.Runtime.TemplateShapes"/>) that
    /// the image has none for, so no first container waits for one. A template that cannot be made
    /// is a warning: that shape's starts boot instead.
    /// </summary>
    private static async Task MakeTemplatesAsync(ParseResult r, CancellationToken ct)
    {
        // --debug here only logs: which guest shape the containers get is the configuration's.
        var options = GlobalOptions.RuntimeOptions(r, debugFlagShapesGuest: false);
        var log = new Moat.Runtime.PhaseLog(r.GetValue(GlobalOptions.Debug) ? Console.Error.WriteLine : _ => { });
        try
        {
            var made = await Moat.Runtime.TemplateShapes.MakeAsync(options, log, ct);
            foreach (var (shape, key) in made)
            {
                if (key is null)
                {
                    Console.Error.WriteLine($"moat: warning: no VM template for a {shape.Name}: its first start makes one (run with --debug to see why)");
                }
            }
            if (made.Any(m => m.Key is not null))
            {
                Console.WriteLine($"VM templates: {string.Join(", ", made.Where(m => m.Key is not null).Select(m => $"{m.Shape.Name} {m.Key}"))}");
            }
        }
        catch (Moat.Runtime.RuntimeException e)
        {
            Console.Error.WriteLine($"moat: warning: no VM templates made: {e.Message}");
        }
    }

    private static async Task<GuestImage> BuildWithProgress(GuestImageBuilder builder, CancellationToken ct)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await builder.BuildAsync(new ActionProgress(p =>
                Console.Error.WriteLine($"[{p.Index}/{p.Count}] {p.Step}{(p.Detail is null ? "" : ": " + p.Detail)}")), ct);
        }
        GuestImage? result = null;
        await AnsiConsole.Progress().AutoClear(false).StartAsync(async ctx =>
        {
            var task = ctx.AddTask("guest image");
            var progress = new ActionProgress(p =>
            {
                task.MaxValue = p.Count;
                task.Value = p.Index;
                task.Description = Markup.Escape(p.Step);
            });
            result = await builder.BuildAsync(progress, ct);
            task.Value = task.MaxValue;
        });
        return result!;
    }

    /// <summary>Reports on the caller's thread, so steps come out in order.</summary>
    private sealed class ActionProgress(Action<GuestBuildProgress> report) : IProgress<GuestBuildProgress>
    {
        public void Report(GuestBuildProgress value) => report(value);
    }
}
