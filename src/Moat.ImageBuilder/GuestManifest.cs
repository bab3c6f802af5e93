using System.Text.Json.Serialization;

namespace Moat.ImageBuilder;

/// <summary>DataDir/guest/&lt;key&gt;/manifest.json: what an image was built from.</summary>
internal sealed record GuestManifest(
    string Key,
    string KernelVersion,
    string KernelPackage,
    string AgentSha256,
    IReadOnlyList<string> Modules,
    DateTime CreatedUtc,
    string Vmlinux,
    string Initrd,
    string? ModulesDisk = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(GuestManifest))]
internal sealed partial class GuestManifestJsonContext : JsonSerializerContext;
