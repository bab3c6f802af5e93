using System.Text.Json.Serialization;

namespace Moat.Runtime;

/// <summary>A host path bound (in the VMM's private mount namespace) under the shared directory.</summary>
public sealed record ShareBind(string Source, string Target, bool ReadOnly);

/// <summary>What the VMM launcher (<c>moat __vmm</c>) needs: it builds the share, then execs QEMU.</summary>
public sealed record VmmLaunchSpec(
    int ParentPid,
    string ShareDir,
    IReadOnlyList<ShareBind> Binds,
    string Binary,
    IReadOnlyList<string> Args);

[JsonSerializable(typeof(VmmLaunchSpec))]
internal sealed partial class RuntimeJson : JsonSerializerContext;
