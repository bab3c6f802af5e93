using System.Text.Json;

namespace Moat.Hypervisor;

/// <summary>An asynchronous QMP event such as <c>SHUTDOWN</c>, <c>STOP</c> or <c>RESUME</c>.</summary>
/// <param name="Name">The event name (the <c>"event"</c> member).</param>
/// <param name="Data">The <c>"data"</c> member, or an <see cref="JsonValueKind.Undefined"/> element when absent. Owned (safe to keep).</param>
public sealed record QmpEvent(string Name, JsonElement Data);
