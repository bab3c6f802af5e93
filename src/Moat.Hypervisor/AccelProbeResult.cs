namespace Moat.Hypervisor;

/// <summary>Outcome of <see cref="AcceleratorProbe.Probe"/>.</summary>
/// <param name="Accel"><see cref="Hypervisor.Accel.Kvm"/> when KVM is usable, else <see cref="Hypervisor.Accel.Tcg"/>.</param>
/// <param name="Reason">Why, one line, e.g. "/dev/kvm: No such file or directory".</param>
/// <param name="ApiVersion">KVM_GET_API_VERSION result when the device could be opened.</param>
public sealed record AccelProbeResult(Accel Accel, string Reason, int? ApiVersion);
