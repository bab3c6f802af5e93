using System.Text.Json.Serialization;
using Moat.Oci;

namespace Moat.Agent;

/// <summary>What the agent hands the container-init helper on fd 3.</summary>
internal sealed class InitSpec
{
    public const string InitMode = "__moat-init";
    public const string ExecMode = "__moat-exec";

    /// <summary>The full spec (init mode) with guest paths.</summary>
    public Spec? Spec { get; set; }

    /// <summary>Guest path of the container rootfs (init mode).</summary>
    public string Rootfs { get; set; } = "";

    /// <summary>The process to run (both modes).</summary>
    public Moat.Oci.Process Process { get; set; } = new();

    /// <summary>Agent-visible pid of the container's init process (exec mode).</summary>
    public int InitPid { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InitSpec))]
internal sealed partial class AgentJson : JsonSerializerContext;
