using System.Text.Json.Serialization;

namespace Moat.Oci;

/// <summary>
/// Source-generated (trim/AOT safe) serialization metadata for the OCI documents.
/// Nulls are omitted on write, null is rejected on read for non-nullable properties, unknown properties are ignored.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(Spec))]
[JsonSerializable(typeof(ContainerState))]
public sealed partial class OciJsonContext : JsonSerializerContext;
