namespace Moat.Hypervisor.Tests;

/// <summary>A fact that is skipped when the QEMU binary is not installed.</summary>
public sealed class QemuFactAttribute : FactAttribute
{
    public const string Binary = "/usr/bin/qemu-system-x86_64";

    public QemuFactAttribute()
    {
        if (!File.Exists(Binary))
        {
            Skip = $"{Binary} is not installed";
        }
    }
}

/// <summary>A theory that is skipped when the QEMU binary is not installed.</summary>
public sealed class QemuTheoryAttribute : TheoryAttribute
{
    public QemuTheoryAttribute()
    {
        if (!File.Exists(QemuFactAttribute.Binary))
        {
            Skip = $"{QemuFactAttribute.Binary} is not installed";
        }
    }
}
