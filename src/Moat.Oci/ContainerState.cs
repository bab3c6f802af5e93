using System.Text.Json.Serialization;

namespace Moat.Oci;

/// <summary>Container status as reported by <c>state</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ContainerStatus>))]
public enum ContainerStatus
{
    [JsonStringEnumMemberName("creating")]
    Creating,

    [JsonStringEnumMemberName("created")]
    Created,

    [JsonStringEnumMemberName("running")]
    Running,

    [JsonStringEnumMemberName("stopped")]
    Stopped,

    /// <summary>Not in the spec; runc reports it for frozen containers and so do we.</summary>
    [JsonStringEnumMemberName("paused")]
    Paused,
}

/// <summary>The OCI runtime state document (runtime.md "State"), as printed by <c>state</c> and passed to hooks.</summary>
public sealed class ContainerState
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = Spec.CurrentVersion;

    [JsonPropertyName("id")]
    public string Id { get; set; } = "";

    [JsonPropertyName("status")]
    public ContainerStatus Status { get; set; }

    /// <summary>Pid of the container process as seen by the runtime; 0 (omitted) when there is none.</summary>
    [JsonPropertyName("pid")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Pid { get; set; }

    /// <summary>Absolute path of the bundle directory.</summary>
    [JsonPropertyName("bundle")]
    public string Bundle { get; set; } = "";

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }
}
