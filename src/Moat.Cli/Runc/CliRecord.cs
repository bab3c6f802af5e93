using System.Text.Json.Serialization;

namespace Moat.Cli.Runc;

/// <summary>
/// What <c>moat create</c> leaves under --root/ID/state.json for the later verbs: where the
/// container's shim daemon listens and which host process stands for the container (the pid-file
/// process, relaying its stdio).
/// </summary>
internal sealed record CliRecord(
    string Id,
    string Bundle,
    string Rootfs,
    DateTime Created,
    int Pid,
    string ShimSocket,
    string Namespace,
    uint OwnerUid,
    Dictionary<string, string>? Annotations);

/// <summary>What <c>moat create</c> and <c>moat exec</c> hand the relay process (environment variable, JSON).</summary>
internal sealed record RelayJob(
    string Root,
    string Id,
    string Bundle,
    string Namespace,
    string? ShimSocket,
    string? ExecId,
    string? ProcessJson,
    bool Terminal,
    string? ConsoleSocket,
    bool ForegroundTty,
    bool NewNetworkNamespace,
    string? NetworkNamespacePath,
    string? ConfigPath);

// A record missing a field, or with null where a value belongs (a partial write, '{}'), is refused
// when read: the verbs name it as corrupt instead of failing on it later.
[JsonSourceGenerationOptions(WriteIndented = false, RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(CliRecord))]
[JsonSerializable(typeof(RelayJob))]
internal sealed partial class CliJson : JsonSerializerContext;
