using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moat.Oci;

// Models of the OCI runtime-spec 1.1.0 config.json. Property names are the spec's exact (case-sensitive) names.
// Optional scalars are nullable so that "absent" survives a round trip; required numeric fields carry [JsonRequired].
// Unknown JSON properties are ignored, as the spec's extensibility rules demand.

/// <summary>The top-level config.json document.</summary>
public sealed class Spec
{
    /// <summary>The runtime-spec version these models implement.</summary>
    public const string CurrentVersion = "1.1.0";

    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    [JsonPropertyName("root")]
    public Root? Root { get; set; }

    [JsonPropertyName("mounts")]
    public List<Mount>? Mounts { get; set; }

    [JsonPropertyName("process")]
    public Process? Process { get; set; }

    [JsonPropertyName("hostname")]
    public string? Hostname { get; set; }

    [JsonPropertyName("domainname")]
    public string? Domainname { get; set; }

    [JsonPropertyName("hooks")]
    public Hooks? Hooks { get; set; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    [JsonPropertyName("linux")]
    public Linux? Linux { get; set; }

    /// <summary>Solaris section; not modelled, kept only so that its presence can be detected.</summary>
    [JsonPropertyName("solaris")]
    public JsonElement? Solaris { get; set; }

    /// <summary>Windows section; not modelled, kept only so that its presence can be detected.</summary>
    [JsonPropertyName("windows")]
    public JsonElement? Windows { get; set; }

    /// <summary>VM section (hypervisor/kernel/image); not modelled, kept only so that its presence can be detected.</summary>
    [JsonPropertyName("vm")]
    public JsonElement? Vm { get; set; }

    /// <summary>z/OS section; not modelled, kept only so that its presence can be detected.</summary>
    [JsonPropertyName("zos")]
    public JsonElement? Zos { get; set; }
}

public sealed class Root
{
    /// <summary>Root filesystem path, absolute or relative to the bundle directory.</summary>
    [JsonPropertyName("path")]
    public string Path { get; set; } = "";

    [JsonPropertyName("readonly")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Readonly { get; set; }
}

public sealed class Mount
{
    [JsonPropertyName("destination")]
    public string Destination { get; set; } = "";

    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("source")]
    public string? Source { get; set; }

    [JsonPropertyName("options")]
    public List<string>? Options { get; set; }

    [JsonPropertyName("uidMappings")]
    public List<LinuxIdMapping>? UidMappings { get; set; }

    [JsonPropertyName("gidMappings")]
    public List<LinuxIdMapping>? GidMappings { get; set; }
}

public sealed class Process
{
    [JsonPropertyName("terminal")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Terminal { get; set; }

    [JsonPropertyName("consoleSize")]
    public ConsoleSize? ConsoleSize { get; set; }

    [JsonPropertyName("user")]
    public User User { get; set; } = new();

    [JsonPropertyName("args")]
    public List<string>? Args { get; set; }

    /// <summary>Windows only.</summary>
    [JsonPropertyName("commandLine")]
    public string? CommandLine { get; set; }

    [JsonPropertyName("env")]
    public List<string>? Env { get; set; }

    [JsonPropertyName("cwd")]
    public string Cwd { get; set; } = "";

    [JsonPropertyName("capabilities")]
    public LinuxCapabilities? Capabilities { get; set; }

    [JsonPropertyName("rlimits")]
    public List<PosixRlimit>? Rlimits { get; set; }

    [JsonPropertyName("noNewPrivileges")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; set; }

    [JsonPropertyName("apparmorProfile")]
    public string? ApparmorProfile { get; set; }

    [JsonPropertyName("oomScoreAdj")]
    public int? OomScoreAdj { get; set; }

    [JsonPropertyName("selinuxLabel")]
    public string? SelinuxLabel { get; set; }

    [JsonPropertyName("ioPriority")]
    public LinuxIOPriority? IoPriority { get; set; }

    [JsonPropertyName("scheduler")]
    public LinuxScheduler? Scheduler { get; set; }
}

public sealed class ConsoleSize
{
    [JsonPropertyName("height")]
    [JsonRequired]
    public uint Height { get; set; }

    [JsonPropertyName("width")]
    [JsonRequired]
    public uint Width { get; set; }
}

public sealed class User
{
    [JsonPropertyName("uid")]
    public uint Uid { get; set; }

    [JsonPropertyName("gid")]
    public uint Gid { get; set; }

    [JsonPropertyName("umask")]
    public uint? Umask { get; set; }

    [JsonPropertyName("additionalGids")]
    public List<uint>? AdditionalGids { get; set; }

    /// <summary>Windows only.</summary>
    [JsonPropertyName("username")]
    public string? Username { get; set; }
}

public sealed class LinuxCapabilities
{
    [JsonPropertyName("bounding")]
    public List<string>? Bounding { get; set; }

    [JsonPropertyName("effective")]
    public List<string>? Effective { get; set; }

    [JsonPropertyName("inheritable")]
    public List<string>? Inheritable { get; set; }

    [JsonPropertyName("permitted")]
    public List<string>? Permitted { get; set; }

    [JsonPropertyName("ambient")]
    public List<string>? Ambient { get; set; }
}

public sealed class PosixRlimit
{
    /// <summary>e.g. <c>RLIMIT_NOFILE</c>.</summary>
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    [JsonPropertyName("soft")]
    [JsonRequired]
    public ulong Soft { get; set; }

    [JsonPropertyName("hard")]
    [JsonRequired]
    public ulong Hard { get; set; }
}

public sealed class LinuxIOPriority
{
    /// <summary><c>IOPRIO_CLASS_RT</c>, <c>IOPRIO_CLASS_BE</c> or <c>IOPRIO_CLASS_IDLE</c>.</summary>
    [JsonPropertyName("class")]
    public string Class { get; set; } = "";

    [JsonPropertyName("priority")]
    public int Priority { get; set; }
}

public sealed class LinuxScheduler
{
    [JsonPropertyName("policy")]
    public string Policy { get; set; } = "";

    [JsonPropertyName("nice")]
    public int? Nice { get; set; }

    [JsonPropertyName("priority")]
    public int? Priority { get; set; }

    [JsonPropertyName("flags")]
    public List<string>? Flags { get; set; }

    [JsonPropertyName("runtime")]
    public ulong? Runtime { get; set; }

    [JsonPropertyName("deadline")]
    public ulong? Deadline { get; set; }

    [JsonPropertyName("period")]
    public ulong? Period { get; set; }
}

public sealed class Hooks
{
    /// <summary>Deprecated in favour of createRuntime/createContainer/startContainer.</summary>
    [JsonPropertyName("prestart")]
    public List<Hook>? Prestart { get; set; }

    [JsonPropertyName("createRuntime")]
    public List<Hook>? CreateRuntime { get; set; }

    [JsonPropertyName("createContainer")]
    public List<Hook>? CreateContainer { get; set; }

    [JsonPropertyName("startContainer")]
    public List<Hook>? StartContainer { get; set; }

    [JsonPropertyName("poststart")]
    public List<Hook>? Poststart { get; set; }

    [JsonPropertyName("poststop")]
    public List<Hook>? Poststop { get; set; }
}

public sealed class Hook
{
    [JsonPropertyName("path")]
    public string Path { get; set; } = "";

    [JsonPropertyName("args")]
    public List<string>? Args { get; set; }

    [JsonPropertyName("env")]
    public List<string>? Env { get; set; }

    /// <summary>Seconds; must be greater than zero when set.</summary>
    [JsonPropertyName("timeout")]
    public int? Timeout { get; set; }
}
