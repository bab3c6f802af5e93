using System.Globalization;

namespace Moat.Hypervisor;

/// <summary>Turns a <see cref="VmConfig"/> into QEMU command-line arguments.</summary>
public static class QemuCommandLine
{
    /// <summary>Memory hotplug slots reserved when <see cref="VmConfig.MaxMemoryMiB"/> is set.</summary>
    public const int MemoryHotplugSlots = 8;

    /// <summary>virtio-serial port name the guest agent opens (/dev/virtio-ports/moat.agent).</summary>
    public const string AgentPortName = "moat.agent";

    /// <summary>The chardev of the guest's serial console (a ring buffer).</summary>
    public const string ConsoleChardev = "console";

    internal const string MicrovmOptions = "microvm,pit=off,pic=off,isa-serial=on,rtc=off,pcie=on";

    /// <summary>
    /// Builds the argument vector for <see cref="VmConfig.QemuBinary"/>, WITHOUT the binary itself
    /// (suits <c>ProcessStartInfo.ArgumentList</c>). Elements are raw argv entries: nothing is shell-quoted.
    /// Commas in values of QEMU key=value options (name, socket paths, share paths and tags) are doubled;
    /// <c>-kernel</c>/<c>-initrd</c>/<c>-append</c>/<c>-pidfile</c>/<c>-serial file:</c> are passed verbatim,
    /// as QEMU reads them verbatim. <see cref="VmConfig.ExtraArgs"/> come last, unmodified.
    /// </summary>
    /// <exception cref="ArgumentException">A field is invalid; the message names it (e.g. "VmConfig.Vcpus must be at least 1 (got 0)").</exception>
    public static IReadOnlyList<string> Build(VmConfig cfg)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        VmConfigValidator.Validate(cfg);

        var args = new List<string>(48);
        void Add(params ReadOnlySpan<string> items) => args.AddRange(items);

        Add("-name", $"guest={QemuOpts.Escape(cfg.Name)},debug-threads=on");

        // QEMU rejects "-accel" together with "-machine accel=": exactly one form is emitted.
        string machine = (cfg.Machine == MachineType.Microvm ? MicrovmOptions : "q35") + (cfg.MemoryFile is null ? "" : ",memory-backend=ram0");
        if (cfg.Accelerator == Accel.Kvm)
        {
            Add("-machine", $"{machine},accel=kvm", "-cpu", "host");
        }
        else
        {
            Add("-machine", machine, "-accel", Invariant($"tcg,tb-size={cfg.TcgTranslationCacheMiB}"), "-cpu", "max");
        }

        if (cfg.FirmwarePath is not null)
        {
            Add("-bios", cfg.FirmwarePath);
        }

        Add("-smp", cfg.MaxVcpus is { } maxCpus && maxCpus > cfg.Vcpus ? Invariant($"{cfg.Vcpus},maxcpus={maxCpus}") : Invariant($"{cfg.Vcpus}"));
        Add("-m", cfg.MaxMemoryMiB is { } max && max > cfg.MemoryMiB
            ? Invariant($"{cfg.MemoryMiB}M,slots={MemoryHotplugSlots},maxmem={max}M")
            : Invariant($"{cfg.MemoryMiB}M"));

        if (cfg.MemoryFile is { } file)
        {
            Add("-object", Invariant($"memory-backend-file,id=ram0,size={cfg.MemoryMiB}M,mem-path={QemuOpts.Escape(file.Path)},share={(file.Shared ? "on" : "off")}"));
        }

        Add("-nodefaults", "-no-user-config", "-nographic", "-display", "none", "-no-reboot");
        Add("-kernel", cfg.KernelPath, "-initrd", cfg.InitrdPath, "-append", KernelArgs.Compose(cfg));

        Add("-chardev", SocketChardev("qmp", cfg.QmpSocket), "-mon", "chardev=qmp,mode=control");
        Add("-device", "virtio-serial-pci,id=serial0");
        Add("-chardev", SocketChardev("agent", cfg.AgentSocket));
        Add("-device", $"virtserialport,chardev=agent,name={AgentPortName}");
        Add("-chardev", Invariant($"ringbuf,id={ConsoleChardev},size={cfg.ConsoleRingBytes}"), "-serial", "chardev:" + ConsoleChardev);
        // A guest that shuts down, reboots or panics leaves QEMU paused (not gone), so its console
        // can still be read; Moat stops it once it has.
        Add("-action", "shutdown=pause,panic=pause");
        // A guest panic reaches QMP as GUEST_PANICKED (the guest's pvpanic_pci driver), so a start
        // fails at once with the reason rather than after the agent's timeout.
        Add("-device", "pvpanic-pci");

        // The guest reports the pages it frees (2 MiB at a time) and QEMU gives them back to the
        // host, so a VM's host memory shrinks after boot instead of only ever growing. No balloon
        // at all on file-backed RAM (templates and their clones): whatever it discards, QEMU 7.2
        // punches out of the file, which clones share.
        if (cfg.MemoryFile is null)
        {
            string reporting = cfg.FreePageReporting ? ",free-page-reporting=on" : "";
            Add("-device", (cfg.Machine == MachineType.Microvm ? "virtio-balloon-device" : "virtio-balloon-pci") + reporting);
        }

        for (int i = 0; i < cfg.Shares.Count; i++)
        {
            var share = cfg.Shares[i];
            string readOnly = share.ReadOnly ? ",readonly=on" : string.Empty;
            Add("-fsdev", Invariant($"local,id=fs{i},path={QemuOpts.Escape(share.HostPath)},security_model=passthrough{readOnly},multidevs=remap"));
            Add("-device", Invariant($"virtio-9p-pci,fsdev=fs{i},mount_tag={QemuOpts.Escape(share.Tag)}"));
        }

        if (cfg.ModulesDisk is { } modules)
        {
            Add("-drive", Invariant($"file={QemuOpts.Escape(modules)},if=none,id=modules,format=raw,readonly=on"));
            Add("-device", Invariant($"{(cfg.Machine == MachineType.Microvm ? "virtio-blk-device" : "virtio-blk-pci")},drive=modules,serial={VmConfig.ModulesDiskSerial}"));
        }

        for (int i = 0; i < cfg.Nics.Count; i++)
        {
            var nic = cfg.Nics[i];
            Add("-netdev", Invariant($"tap,id=net{i},fd={nic.Fd},vhost=off"));
            Add("-device", Invariant($"{(cfg.Machine == MachineType.Microvm ? "virtio-net-device" : "virtio-net-pci")},netdev=net{i},mac={nic.Mac}"));
        }

        if (cfg.IncomingStatePath is not null)
        {
            // The state is read once QMP has set x-ignore-shared (migrate-incoming): see IncomingStatePath.
            Add("-incoming", "defer");
        }

        if (cfg.Sandboxed)
        {
            Add("-sandbox", $"on,obsolete=deny,elevateprivileges=deny,spawn={(cfg.AllowSpawn ? "allow" : "deny")},resourcecontrol=deny");
        }

        if (cfg.PidFile is not null)
        {
            Add("-pidfile", cfg.PidFile);
        }

        args.AddRange(cfg.ExtraArgs);
        return args.AsReadOnly();
    }

    private static string SocketChardev(string id, string socketPath)
    {
        string path = QemuOpts.Escape(Moat.Linux.UnixSocketPath.QemuPath(socketPath));
        string @abstract = Moat.Linux.UnixSocketPath.IsAbstract(socketPath) ? ",abstract=on" : string.Empty;
        return $"socket,id={id},path={path},server=on,wait=off{@abstract}";
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
