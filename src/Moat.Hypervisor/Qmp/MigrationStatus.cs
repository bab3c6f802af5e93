using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>Reads the answer of QMP <c>query-migrate</c>.</summary>
public static class MigrationStatus
{
    /// <summary>
    /// The migration's <c>status</c> ("completed", "failed", ...) and <c>error-desc</c>, each null when
    /// absent or not a string. Throws <see cref="QmpProtocolException"/> when the answer is not an object.
    /// </summary>
    public static (string? Status, string? Error) Read(JsonElement info)
    {
        if (info.ValueKind != JsonValueKind.Object)
        {
            throw new QmpProtocolException($"query-migrate: expected an object, got {info.ValueKind}");
        }

        return (Text(info, "status"), Text(info, "error-desc"));
    }

    private static string? Text(JsonElement info, string name) =>
        info.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
