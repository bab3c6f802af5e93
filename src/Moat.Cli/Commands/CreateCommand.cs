using System.CommandLine;
using Moat.Cli.Runc;

namespace Moat.Cli.Commands;

/// <summary><c>moat create --bundle DIR [--pid-file F] [--console-socket S] ID</c>: boot the VM, prepare the process, do not start it.</summary>
internal static class CreateCommand
{
    public static Command Create()
    {
        var o = new LifecycleOptions();
        var cmd = new Command("create", "create a container in its own VM (start runs its process)");
        o.AddTo(cmd);
        cmd.SetAction((r, ct) => ErrorReporter.Guard(async () =>
        {
            await Lifecycle.CreateAsync(r.GetValue(GlobalOptions.Root)!, r.GetValue(o.Id)!, r.GetValue(o.Bundle)!, r.GetValue(o.PidFile),
                r.GetValue(o.ConsoleSocket), foreground: false, r.GetValue(GlobalOptions.Config), ct);
            return 0;
        }));
        return cmd;
    }
}

/// <summary>The flags create and run share (runc's).</summary>
internal sealed class LifecycleOptions
{
    public Option<string> Bundle { get; } = new("--bundle", "-b") { Description = "path to the OCI bundle", DefaultValueFactory = _ => "." };
    public Option<string?> PidFile { get; } = new("--pid-file") { Description = "file to write the pid of the host process standing for the container" };
    public Option<string?> ConsoleSocket { get; } = new("--console-socket") { Description = "AF_UNIX socket that receives the pty master (process.terminal)" };
    public Option<bool> NoPivot { get; } = new("--no-pivot") { Description = "accepted for runc compatibility (the guest always pivots)" };
    public Option<bool> NoNewKeyring { get; } = new("--no-new-keyring") { Description = "accepted for runc compatibility" };
    public Option<int> PreserveFds { get; } = new("--preserve-fds") { Description = "accepted for runc compatibility (fds cannot cross into a VM)" };
    public Argument<string> Id { get; } = new("container-id") { Description = "unique container id" };

    public void AddTo(Command cmd)
    {
        cmd.Options.Add(Bundle);
        cmd.Options.Add(PidFile);
        cmd.Options.Add(ConsoleSocket);
        cmd.Options.Add(NoPivot);
        cmd.Options.Add(NoNewKeyring);
        cmd.Options.Add(PreserveFds);
        cmd.Arguments.Add(Id);
    }
}
