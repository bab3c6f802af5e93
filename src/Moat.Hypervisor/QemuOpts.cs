namespace Moat.Hypervisor;

/// <summary>
/// Escaping for values inside QEMU "key=value,key=value" option strings (QemuOpts / keyval):
/// a literal comma is written as ",,".
/// </summary>
/// <remarks>
/// Only options parsed that way need it (<c>-name</c>, <c>-chardev</c>, <c>-fsdev</c>, <c>-device</c>,
/// <c>-accel</c>, <c>-machine</c>). <c>-kernel</c>, <c>-initrd</c>, <c>-append</c>, <c>-pidfile</c> and
/// <c>-serial file:</c> take their argument verbatim (checked against QEMU 7.2): doubling there would
/// name a different file.
/// </remarks>
internal static class QemuOpts
{
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
