namespace Moat.Hypervisor;

/// <summary>What an <see cref="IHypervisor"/> implementation can do.</summary>
public sealed record HypervisorCapabilities(bool SupportsPause, bool SupportsMemoryHotplug, bool SupportsCpuHotplug);
