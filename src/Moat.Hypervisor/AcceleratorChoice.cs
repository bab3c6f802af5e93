namespace Moat.Hypervisor;

/// <summary>Which accelerator the configuration asks for (<c>hypervisor.accelerator</c>, <c>MOAT_ACCELERATOR</c>).</summary>
public enum AcceleratorChoice
{
    /// <summary>KVM once it has booted this guest (the canary), otherwise TCG.</summary>
    Auto,

    /// <summary>KVM or a fast failure saying why not.</summary>
    Kvm,

    /// <summary>QEMU's software emulation, never KVM.</summary>
    Tcg,
}

/// <summary>Names of <see cref="AcceleratorChoice"/> as they appear in the configuration.</summary>
public static class AcceleratorChoices
{
    public const string Allowed = "\"auto\", \"kvm\" or \"tcg\"";

    /// <summary>Parses "auto", "kvm" or "tcg" (exact, lower case); null for anything else.</summary>
    public static AcceleratorChoice? Parse(string? value) => value switch
    {
        "auto" => AcceleratorChoice.Auto,
        "kvm" => AcceleratorChoice.Kvm,
        "tcg" => AcceleratorChoice.Tcg,
        _ => null,
    };

    public static string Name(this AcceleratorChoice choice) => choice switch
    {
        AcceleratorChoice.Kvm => "kvm",
        AcceleratorChoice.Tcg => "tcg",
        _ => "auto",
    };
}
