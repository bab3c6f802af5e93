using Moat.Hypervisor;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Moat.Runtime;

/// <summary>
/// Moat's configuration file (TOML), read by the shim (containerd's options.ConfigPath, or the
/// default path) and the CLI. Every key is optional; an unknown key or a bad value is an error
/// that names it, rather than being silently ignored.
/// <code>
/// [hypervisor]
/// path = "/usr/bin/qemu-system-x86_64"
/// machine = "q35"            # or "microvm"
/// accelerator = "auto"      # "kvm" or "tcg"; auto = KVM once a canary booted the guest under it
/// memory_mib = 512
/// max_memory_mib = 8192     # memory hotplug ceiling
/// vcpus = 1
/// tcg_cache_mib = 32        # translation cache per VM under software emulation
/// template = true           # restore VMs of the configured shape from a saved template VM
/// [agent]
/// timeout_seconds = 60
/// [runtime]
/// data_dir = "/var/lib/moat"
/// debug = false
/// </code>
/// </summary>
public static class MoatConfig
{
    public const string DefaultPath = "/etc/moat/configuration.toml";

    /// <summary>Applies the file at <paramref name="path"/> to <paramref name="options"/>; a missing default file is fine.</summary>
    public static RuntimeOptions Apply(RuntimeOptions options, string? path)
    {
        var explicitPath = !string.IsNullOrEmpty(path);
        path = explicitPath ? path! : DefaultPath;
        if (!File.Exists(path))
        {
            return explicitPath
                ? throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"configuration file {path} does not exist")
                : options;
        }
        return Apply(options, File.ReadAllText(path), path);
    }

    /// <summary>Applies configuration text (TOML) read from <paramref name="path"/>; any bad content is a <see cref="RuntimeException"/>.</summary>
    internal static RuntimeOptions Apply(RuntimeOptions options, string text, string path)
    {
        TomlTable model;
        try
        {
            model = TomlSerializer.Deserialize(text, MoatTomlContext.Default.TomlTable) ?? new TomlTable();
        }
        catch (Exception e) when (e is TomlException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        foreach (var (section, value) in model)
        {
            if (value is not TomlTable table)
            {
                throw Bad(path, section, "must be a table such as [hypervisor]");
            }
            foreach (var (key, v) in table)
            {
                var name = $"{section}.{key}";
                options = (section, key) switch
                {
                    ("hypervisor", "path") => options with { QemuBinary = Text(path, name, v) },
                    ("hypervisor", "firmware") => options with { Firmware = v is string f ? f : throw Bad(path, name, "must be a string (a path, or \"\" for QEMU's own)") },
                    ("hypervisor", "machine") => options with
                    {
                        Machine = Text(path, name, v) switch
                        {
                            "q35" => MachineType.Q35,
                            "microvm" => MachineType.Microvm,
                            var other => throw Bad(path, name, $"unknown machine \"{other}\" (use \"q35\" or \"microvm\")"),
                        },
                    },
                    ("hypervisor", "memory_mib") => options with { MemoryMiB = Number(path, name, v, 64, 1 << 20) },
                    ("hypervisor", "max_memory_mib") => options with { MaxMemoryMiB = Number(path, name, v, 64, 1 << 22) },
                    ("hypervisor", "vcpus") => options with { Vcpus = Number(path, name, v, 1, 256) },
                    ("hypervisor", "max_vcpus") => options with { MaxVcpus = Number(path, name, v, 0, 256) },
                    ("hypervisor", "tcg_cache_mib") => options with { TcgCacheMiB = Number(path, name, v, 1, 2048) },
                    ("hypervisor", "accelerator") => options with
                    {
                        Accelerator = AcceleratorChoices.Parse(v as string)
                            ?? throw Bad(path, name, $"unknown accelerator {(v is string a ? "\"" + a + "\"" : v)} (use {AcceleratorChoices.Allowed})"),
                    },
                    ("hypervisor", "template") => options with { Templates = v is bool t ? t : throw Bad(path, name, "must be true or false") },
                    ("agent", "timeout_seconds") => options with { AgentTimeout = TimeSpan.FromSeconds(Number(path, name, v, 1, 3600)) },
                    ("runtime", "data_dir") => options with { DataDir = Text(path, name, v) },
                    ("runtime", "debug") => options with { Debug = v is bool b ? b : throw Bad(path, name, "must be true or false") },
                    _ => throw Bad(path, name, "unknown key"),
                };
            }
        }
        return options;
    }

    private static string Text(string path, string name, object v) =>
        v is string s && s.Length > 0 ? s : throw Bad(path, name, "must be a non-empty string");

    private static int Number(string path, string name, object v, int min, int max) =>
        v is long n && n >= min && n <= max ? (int)n : throw Bad(path, name, $"must be a whole number from {min} to {max}, got {v}");

    private static RuntimeException Bad(string path, string name, string what) =>
        new(RuntimeErrorKind.InvalidArgument, $"{path}: {name}: {what}");
}

/// <summary>Source-generated (trim and NativeAOT safe) TOML metadata: the file is read as a DOM and checked key by key.</summary>
[TomlSerializable(typeof(TomlTable))]
internal sealed partial class MoatTomlContext : TomlSerializerContext;
