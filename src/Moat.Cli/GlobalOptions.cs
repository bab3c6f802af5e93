using System.CommandLine;

namespace Moat.Cli;

/// <summary>Options every verb accepts (runc's global flags).</summary>
internal static class GlobalOptions
{
    public static readonly Option<bool> Debug = new("--debug") { Description = "log each phase with its time to stderr", Recursive = true };
    public static readonly Option<string> Root = new("--root") { Description = "state directory", DefaultValueFactory = _ => "/run/moat", Recursive = true };
    public static readonly Option<string> DataDir = new("--data-dir") { Description = "guest image directory", DefaultValueFactory = _ => "/var/lib/moat", Recursive = true };
    public static readonly Option<string?> Log = new("--log") { Description = "log file (accepted for runc compatibility)", Recursive = true };
    public static readonly Option<string> LogFormat = new("--log-format") { Description = "text or json", DefaultValueFactory = _ => "text", Recursive = true };
    public static readonly Option<string?> Config = new("--config") { Description = $"configuration file (default {Moat.Runtime.MoatConfig.DefaultPath} if present)", Recursive = true };
    public static readonly Option<bool> SystemdCgroup = new("--systemd-cgroup") { Description = "accepted for runc compatibility", Recursive = true };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Debug);
        root.Options.Add(Root);
        root.Options.Add(DataDir);
        root.Options.Add(Log);
        root.Options.Add(LogFormat);
        root.Options.Add(SystemdCgroup);
        root.Options.Add(Config);
    }

    public static Moat.Runtime.RuntimeOptions RuntimeOptions(ParseResult r)
    {
        var o = Moat.Runtime.MoatConfig.Apply(new Moat.Runtime.RuntimeOptions(), r.GetValue(Config));
        o = o with
        {
            Debug = o.Debug || r.GetValue(Debug),
            StateRoot = r.GetValue(Root)!,
            DataDir = r.GetResult(DataDir) is { Implicit: false } ? r.GetValue(DataDir)! : o.DataDir,
        };
        // Overrides for tests and benchmarks.
        if (Environment.GetEnvironmentVariable("MOAT_MEMORY_MIB") is { } mem && int.TryParse(mem, out var m))
        {
            o = o with { MemoryMiB = m };
        }
        if (Environment.GetEnvironmentVariable("MOAT_VCPUS") is { } cpus && int.TryParse(cpus, out var n))
        {
            o = o with { Vcpus = n };
        }
        if (Environment.GetEnvironmentVariable("MOAT_MACHINE") is { } machine)
        {
            o = o with { Machine = machine == "microvm" ? Moat.Hypervisor.MachineType.Microvm : Moat.Hypervisor.MachineType.Q35 };
        }
        if (Environment.GetEnvironmentVariable("MOAT_AGENT_TIMEOUT") is { } t && int.TryParse(t, out var secs))
        {
            o = o with { AgentTimeout = TimeSpan.FromSeconds(secs) };
        }
        if (Environment.GetEnvironmentVariable("MOAT_KERNEL") is { } k)
        {
            o = o with { KernelPath = k };
        }
        if (Environment.GetEnvironmentVariable("MOAT_INITRD") is { } i)
        {
            o = o with { InitrdPath = i };
        }
        if (Environment.GetEnvironmentVariable("MOAT_QEMU") is { } q)
        {
            o = o with { QemuBinary = q };
        }
        return o;
    }
}
