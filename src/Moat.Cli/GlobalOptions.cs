using System.CommandLine;

namespace Moat.Cli;

/// <summary>Options every verb accepts (runc's global flags).</summary>
internal static class GlobalOptions
{
    public static readonly Option<bool> Debug = new("--debug") { Description = "log each phase with its time to stderr", Recursive = true };
    public static readonly Option<string> Root = new("--root") { Description = "state directory", DefaultValueFactory = _ => "/run/moat", Recursive = true };
    public static readonly Option<string> DataDir = new("--data-dir") { Description = "guest image directory", DefaultValueFactory = _ => "/var/lib/moat", Recursive = true };
    public static readonly Option<string?> Log = new("--log") { Description = "file that also receives errors (JSON lines with --log-format json)", Recursive = true };
    public static readonly Option<string> LogFormat = new("--log-format") { Description = "text or json", DefaultValueFactory = _ => "text", Recursive = true };

    static GlobalOptions() => LogFormat.AcceptOnlyFromAmong("text", "json");
    public static readonly Option<string?> Config = new("--config") { Description = $"configuration file (default {Moat.Runtime.MoatConfig.DefaultPath} if present)", Recursive = true };
    public static readonly Option<bool> SystemdCgroup = new("--systemd-cgroup") { Description = "accepted for runc compatibility", Recursive = true };
    public static readonly Option<string?> Criu = new("--criu") { Description = "accepted for runc compatibility (checkpoints are not supported)", Recursive = true };
    public static readonly Option<string?> Rootless = new("--rootless") { Description = "accepted for runc compatibility", Recursive = true };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Debug);
        root.Options.Add(Root);
        root.Options.Add(DataDir);
        root.Options.Add(Log);
        root.Options.Add(LogFormat);
        root.Options.Add(SystemdCgroup);
        root.Options.Add(Criu);
        root.Options.Add(Rootless);
        root.Options.Add(Config);
    }

    /// <param name="debugFlagShapesGuest">
    /// Whether --debug also makes a debug guest (a VM shape of its own), as for a run; false where
    /// --debug only logs and the guests are the configuration's (making templates ahead).
    /// </param>
    public static Moat.Runtime.RuntimeOptions RuntimeOptions(ParseResult r, bool debugFlagShapesGuest = true)
    {
        var o = Moat.Runtime.MoatConfig.Apply(new Moat.Runtime.RuntimeOptions(), r.GetValue(Config));
        o = o with
        {
            Debug = o.Debug || (debugFlagShapesGuest && r.GetValue(Debug)),
            StateRoot = r.GetValue(Root)!,
            DataDir = r.GetResult(DataDir) is { Implicit: false } ? r.GetValue(DataDir)! : o.DataDir,
        };
        return o.WithEnvironmentOverrides();
    }
}
