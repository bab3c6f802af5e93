namespace Moat.Hypervisor;

/// <summary>Builds the final guest kernel command line from <see cref="VmConfig.KernelCommandLine"/>.</summary>
internal static class KernelArgs
{
    /// <summary>
    /// Appends <c>console=ttyS0</c> (unless that exact token is present), <c>panic=-1</c> (unless any
    /// <c>panic=</c> is present) and, for microvm under TCG with a known TSC frequency,
    /// <c>tsc_early_khz=N</c> (unless present). Extras go before a <c>--</c> separator, if any, so they
    /// stay kernel parameters rather than becoming init arguments.
    /// </summary>
    public static string Compose(VmConfig cfg)
    {
        var tokens = cfg.KernelCommandLine.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
        int separator = tokens.IndexOf("--");
        int kernelPartEnd = separator < 0 ? tokens.Count : separator;
        var kernelPart = tokens.Take(kernelPartEnd).ToList();

        var extras = new List<string>(3);
        if (!kernelPart.Contains("console=ttyS0"))
        {
            extras.Add("console=ttyS0");
        }

        if (!kernelPart.Any(t => t.StartsWith("panic=", StringComparison.Ordinal)))
        {
            extras.Add("panic=-1");
        }

        if (cfg.Machine == MachineType.Microvm && cfg.Accelerator == Accel.Tcg && cfg.TscKhz is { } khz
            && !kernelPart.Any(t => t.StartsWith("tsc_early_khz=", StringComparison.Ordinal)))
        {
            extras.Add($"tsc_early_khz={khz}");
        }

        tokens.InsertRange(kernelPartEnd, extras);
        return string.Join(' ', tokens);
    }
}
