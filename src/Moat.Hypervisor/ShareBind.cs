namespace Moat.Hypervisor;

/// <summary>A host path bound (in the VMM's private mount namespace) under the shared directory, at <paramref name="Target"/>.</summary>
public sealed record ShareBind(string Source, string Target, bool ReadOnly);
