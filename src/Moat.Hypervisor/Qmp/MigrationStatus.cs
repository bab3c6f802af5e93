using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>Reads the answer of QMP <c>query-migrate</c>.</summary>
public static class MigrationStatus
{
    /// <summary>The migration's <c>status</c> ("completed", "failed", ...) and <c>error-desc</c>, each null when absent.</summary>
    public static (string? Status, string? Error) Read(JsonElement info)
    {
        var status = info.TryGetProperty("status", out var s) ? s.GetString() : null;
        var error = info.TryGetProperty("error-desc", out var d) ? d.GetString() : null;
        return (status, error);
    }
}
