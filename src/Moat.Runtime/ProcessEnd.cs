namespace Moat.Runtime;

/// <summary>How a guest process ended: its exit status, and when the VM died under it, what happened (<see cref="Sandbox.WaitAsync"/>).</summary>
public sealed record ProcessEnd(int Status, string? VmDeath);
