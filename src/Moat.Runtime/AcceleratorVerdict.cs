using System.Text.Json.Serialization;

namespace Moat.Runtime;

/// <summary>
/// What a canary boot showed about one accelerator on this host: whether it ran the installed
/// guest up to its agent's answer, and if not, why (with QEMU's own words).
/// </summary>
/// <param name="Accelerator">"kvm" or "tcg".</param>
/// <param name="Works">The guest's agent answered within the canary's deadline.</param>
/// <param name="Reason">One line: how long it took, or what went wrong.</param>
/// <param name="CheckedAt">When the canary ran (UTC).</param>
/// <param name="Milliseconds">How long the canary took.</param>
/// <param name="Source">"canary", or "start" when a real VM start showed it.</param>
public sealed record AcceleratorVerdict(string Accelerator, bool Works, string Reason, DateTime CheckedAt, long Milliseconds, string Source);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AcceleratorVerdict))]
internal sealed partial class VerdictJson : JsonSerializerContext;
