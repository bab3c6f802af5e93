namespace Moat.Hypervisor;

/// <summary>Rejects a <see cref="VmConfig"/> QEMU would refuse or misinterpret, with a one-line message naming the field.</summary>
internal static class VmConfigValidator
{
    internal const int MinMemoryMiB = 64;

    public static void Validate(VmConfig cfg)
    {
        if (string.IsNullOrWhiteSpace(cfg.Name))
        {
            throw Invalid(nameof(VmConfig.Name), "must not be empty");
        }

        RequireAbsolute(nameof(VmConfig.KernelPath), cfg.KernelPath);
        RequireAbsolute(nameof(VmConfig.InitrdPath), cfg.InitrdPath);
        if (cfg.FirmwarePath is not null)
        {
            RequireAbsolute(nameof(VmConfig.FirmwarePath), cfg.FirmwarePath);
        }
        if (cfg.ConsoleRingBytes < 4096 || (cfg.ConsoleRingBytes & (cfg.ConsoleRingBytes - 1)) != 0)
        {
            throw Invalid(nameof(VmConfig.ConsoleRingBytes), $"must be a power of two of at least 4096 (got {cfg.ConsoleRingBytes})");
        }
        if (cfg.PidFile is not null)
        {
            RequireAbsolute(nameof(VmConfig.PidFile), cfg.PidFile);
        }

        if (cfg.MemoryFile is { } file)
        {
            RequireAbsolute($"{nameof(VmConfig.MemoryFile)}.Path", file.Path);
        }

        if (cfg.IncomingStatePath is { } incoming)
        {
            RequireAbsolute(nameof(VmConfig.IncomingStatePath), incoming);
            if (!incoming.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-'))
            {
                throw Invalid(nameof(VmConfig.IncomingStatePath), $"must hold only letters, digits, '/', '.', '_' and '-': QEMU hands it to a shell (got '{incoming}')");
            }

            if (cfg.MemoryFile is not { Shared: false })
            {
                throw Invalid(nameof(VmConfig.IncomingStatePath), "needs a MemoryFile mapped copy-on-write (Shared = false): the saved state holds no RAM");
            }
        }

        if (cfg.MemoryFile is not null && cfg.FreePageReporting)
        {
            throw Invalid(nameof(VmConfig.FreePageReporting), "must be off with a MemoryFile: QEMU discards reported pages by punching holes in the file");
        }

        RequireSocket(nameof(VmConfig.QmpSocket), cfg.QmpSocket);
        RequireSocket(nameof(VmConfig.AgentSocket), cfg.AgentSocket);
        if (string.Equals(cfg.QmpSocket, cfg.AgentSocket, StringComparison.Ordinal))
        {
            throw Invalid(nameof(VmConfig.AgentSocket), $"must differ from QmpSocket (both '{cfg.QmpSocket}')");
        }

        if (cfg.Vcpus < 1)
        {
            throw Invalid(nameof(VmConfig.Vcpus), $"must be at least 1 (got {cfg.Vcpus})");
        }

        if (cfg.MaxVcpus is { } maxCpus && maxCpus < cfg.Vcpus)
        {
            throw Invalid(nameof(VmConfig.MaxVcpus), $"must be at least Vcpus ({cfg.Vcpus}) (got {maxCpus})");
        }

        if (cfg.MaxVcpus > cfg.Vcpus && cfg.Machine == MachineType.Microvm)
        {
            throw Invalid(nameof(VmConfig.MaxVcpus), $"must equal Vcpus on microvm, which cannot hotplug CPUs (got {cfg.MaxVcpus}): use q35");
        }

        if (cfg.MemoryMiB < MinMemoryMiB)
        {
            throw Invalid(nameof(VmConfig.MemoryMiB), $"must be at least {MinMemoryMiB} (got {cfg.MemoryMiB})");
        }

        if (cfg.MaxMemoryMiB is { } max && max < cfg.MemoryMiB)
        {
            throw Invalid(nameof(VmConfig.MaxMemoryMiB), $"must be at least MemoryMiB ({cfg.MemoryMiB}) (got {max})");
        }

        if (cfg.Accelerator == Accel.Tcg && cfg.TcgTranslationCacheMiB < 1)
        {
            throw Invalid(nameof(VmConfig.TcgTranslationCacheMiB), $"must be at least 1 (got {cfg.TcgTranslationCacheMiB})");
        }

        if (cfg.TscKhz is <= 0)
        {
            throw Invalid(nameof(VmConfig.TscKhz), $"must be positive when set (got {cfg.TscKhz})");
        }

        if (!Enum.IsDefined(cfg.Machine))
        {
            throw Invalid(nameof(VmConfig.Machine), $"unknown machine type {(int)cfg.Machine}");
        }

        if (!Enum.IsDefined(cfg.Accelerator))
        {
            throw Invalid(nameof(VmConfig.Accelerator), $"unknown accelerator {(int)cfg.Accelerator}");
        }

        if (cfg.KernelCommandLine is null)
        {
            throw Invalid(nameof(VmConfig.KernelCommandLine), "must not be null");
        }

        if (cfg.ExtraArgs is null)
        {
            throw Invalid(nameof(VmConfig.ExtraArgs), "must not be null");
        }

        ValidateShares(cfg.Shares);
    }

    private static void ValidateShares(IReadOnlyList<SharedDirectory>? shares)
    {
        if (shares is null)
        {
            throw Invalid(nameof(VmConfig.Shares), "must not be null");
        }

        var tags = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < shares.Count; i++)
        {
            var share = shares[i] ?? throw Invalid($"{nameof(VmConfig.Shares)}[{i}]", "must not be null");
            string field = $"{nameof(VmConfig.Shares)}[{i}]";
            if (string.IsNullOrEmpty(share.Tag) || share.Tag.Any(char.IsWhiteSpace) || share.Tag.Any(char.IsControl))
            {
                throw Invalid($"{field}.Tag", $"must be non-empty without whitespace (got '{share.Tag}')");
            }

            if (!tags.Add(share.Tag))
            {
                throw Invalid($"{field}.Tag", $"duplicate share tag '{share.Tag}'");
            }

            RequireAbsolute($"{field}.HostPath", share.HostPath);
        }
    }

    private static void RequireAbsolute(string field, string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw Invalid(field, "must not be empty");
        }

        if (!path.StartsWith('/'))
        {
            throw Invalid(field, $"must be an absolute path (got '{path}')");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw Invalid(field, "must not contain NUL characters");
        }
    }

    private static void RequireSocket(string field, string? path)
    {
        if (Moat.Linux.UnixSocketPath.Validate(path) is { } problem)
        {
            throw Invalid(field, problem);
        }
    }

    private static ArgumentException Invalid(string field, string problem) =>
        new($"VmConfig.{field} {problem}");
}
