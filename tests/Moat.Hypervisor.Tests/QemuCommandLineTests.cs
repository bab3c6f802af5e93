namespace Moat.Hypervisor.Tests;

public sealed class QemuCommandLineTests
{
    internal static VmConfig Sample() => new()
    {
        Name = "moat-c1",
        Machine = MachineType.Q35,
        Accelerator = Accel.Tcg,
        Vcpus = 2,
        MemoryMiB = 512,
        KernelPath = "/var/lib/moat/vmlinuz",
        InitrdPath = "/var/lib/moat/initrd.img",
        KernelCommandLine = "quiet",
        QmpSocket = "/run/moat/c1/qmp.sock",
        AgentSocket = "/run/moat/c1/agent.sock",
        Shares = [new SharedDirectory("rootfs", "/run/moat/c1/rootfs", ReadOnly: false)],
    };

    [Fact]
    public void Q35Tcg_ExactArgv()
    {
        string[] expected =
        [
            "-name", "guest=moat-c1,debug-threads=on",
            "-machine", "q35",
            "-accel", "tcg,tb-size=32",
            "-cpu", "max",
            "-smp", "2",
            "-m", "512M",
            "-nodefaults", "-no-user-config", "-nographic", "-display", "none", "-no-reboot",
            "-kernel", "/var/lib/moat/vmlinuz",
            "-initrd", "/var/lib/moat/initrd.img",
            "-append", "quiet console=ttyS0 panic=-1",
            "-chardev", "socket,id=qmp,path=/run/moat/c1/qmp.sock,server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
            "-device", "virtio-serial-pci,id=serial0",
            "-chardev", "socket,id=agent,path=/run/moat/c1/agent.sock,server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=moat.agent",
            "-chardev", "ringbuf,id=console,size=131072",
            "-serial", "chardev:console",
            "-action", "shutdown=pause,panic=pause",
            "-device", "pvpanic-pci",
            "-device", "virtio-balloon-pci,free-page-reporting=on",
            "-fsdev", "local,id=fs0,path=/run/moat/c1/rootfs,security_model=passthrough,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=fs0,mount_tag=rootfs",
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        ];
        Assert.Equal(expected, QemuCommandLine.Build(Sample()));
    }

    [Fact]
    public void TcgCacheSize_IsHonoured()
    {
        var argv = QemuCommandLine.Build(Sample() with { TcgTranslationCacheMiB = 256 });
        Assert.Equal("tcg,tb-size=256", After(argv, "-accel"));
    }

    [Fact]
    public void Kvm_UsesMachineAccelAndHostCpu_AndNoAccelOption()
    {
        var argv = QemuCommandLine.Build(Sample() with { Accelerator = Accel.Kvm });
        Assert.Equal("q35,accel=kvm", After(argv, "-machine"));
        Assert.Equal("host", After(argv, "-cpu"));
        Assert.DoesNotContain("-accel", argv);
        Assert.Single(argv, a => a == "-machine");
    }

    [Fact]
    public void AbstractSockets_DropAtAndAddAbstractOn()
    {
        var argv = QemuCommandLine.Build(Sample() with { QmpSocket = "@moat-c1-qmp", AgentSocket = "@moat-c1-agent" });
        Assert.Contains("socket,id=qmp,path=moat-c1-qmp,server=on,wait=off,abstract=on", argv);
        Assert.Contains("socket,id=agent,path=moat-c1-agent,server=on,wait=off,abstract=on", argv);
    }

    [Fact]
    public void Commas_AreDoubledInKeyValueOptions_AndVerbatimElsewhere()
    {
        var cfg = Sample() with
        {
            Name = "a,b",
            KernelPath = "/k,1/vmlinuz",
            InitrdPath = "/k,1/initrd",
            QmpSocket = "/run/x,y/qmp.sock",
            AgentSocket = "@agent,1",
            PidFile = "/run/x,y/pid",
            Shares = [new SharedDirectory("t,1", "/srv/a,b", ReadOnly: false)],
            ModulesDisk = "/var/lib/moat/guest/modules/a,b.ext4",
        };
        var argv = QemuCommandLine.Build(cfg);
        // The modules disk: read-only, found in the guest by its serial.
        Assert.Contains("file=/var/lib/moat/guest/modules/a,,b.ext4,if=none,id=modules,format=raw,readonly=on", argv);
        Assert.Contains("virtio-blk-pci,drive=modules,serial=moat-modules", argv);
        Assert.Equal("guest=a,,b,debug-threads=on", After(argv, "-name"));
        Assert.Contains("socket,id=qmp,path=/run/x,,y/qmp.sock,server=on,wait=off", argv);
        Assert.Contains("socket,id=agent,path=agent,,1,server=on,wait=off,abstract=on", argv);
        Assert.Contains("local,id=fs0,path=/srv/a,,b,security_model=passthrough,multidevs=remap", argv);
        Assert.Contains("virtio-9p-pci,fsdev=fs0,mount_tag=t,,1", argv);

        // QEMU reads these verbatim (verified against QEMU 7.2): doubling would name another file.
        Assert.Equal("/k,1/vmlinuz", After(argv, "-kernel"));
        Assert.Equal("/k,1/initrd", After(argv, "-initrd"));
        Assert.Equal("chardev:console", After(argv, "-serial"));
        Assert.Equal("/run/x,y/pid", After(argv, "-pidfile"));
    }

    [Fact]
    public void ReadOnlyShares_GetReadonlyOn_AndSequentialIds()
    {
        var argv = QemuCommandLine.Build(Sample() with
        {
            Shares =
            [
                new SharedDirectory("rootfs", "/srv/rootfs", ReadOnly: false),
                new SharedDirectory("config", "/srv/config", ReadOnly: true),
            ],
        });
        Assert.Contains("local,id=fs0,path=/srv/rootfs,security_model=passthrough,multidevs=remap", argv);
        Assert.Contains("local,id=fs1,path=/srv/config,security_model=passthrough,readonly=on,multidevs=remap", argv);
        Assert.Contains("virtio-9p-pci,fsdev=fs1,mount_tag=config", argv);
    }

    [Fact]
    public void MicrovmTcg_WithTsc_AddsTscEarlyKhz()
    {
        var argv = QemuCommandLine.Build(Sample() with { Machine = MachineType.Microvm, TscKhz = 2096017 });
        Assert.Equal("microvm,pit=off,pic=off,isa-serial=on,rtc=off,pcie=on", After(argv, "-machine"));
        Assert.Equal("tcg,tb-size=32", After(argv, "-accel"));
        Assert.Equal("quiet console=ttyS0 panic=-1 tsc_early_khz=2096017", After(argv, "-append"));
        Assert.Contains("virtio-balloon-device,free-page-reporting=on", argv);
    }

    [Fact]
    public void MicrovmKvm_NoTscEarlyKhz_AccelOnMachine()
    {
        var argv = QemuCommandLine.Build(Sample() with { Machine = MachineType.Microvm, Accelerator = Accel.Kvm, TscKhz = 2096017 });
        Assert.Equal("microvm,pit=off,pic=off,isa-serial=on,rtc=off,pcie=on,accel=kvm", After(argv, "-machine"));
        Assert.DoesNotContain("tsc_early_khz", After(argv, "-append"), StringComparison.Ordinal);
    }

    [Fact]
    public void Q35Tcg_WithTsc_NoTscEarlyKhz()
    {
        var argv = QemuCommandLine.Build(Sample() with { TscKhz = 2096017 });
        Assert.DoesNotContain("tsc_early_khz", After(argv, "-append"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "console=ttyS0 panic=-1")]
    [InlineData("console=ttyS0 quiet", "console=ttyS0 quiet panic=-1")]
    [InlineData("panic=5", "panic=5 console=ttyS0")]
    [InlineData("  quiet   init=/sbin/moat-agent ", "quiet init=/sbin/moat-agent console=ttyS0 panic=-1")]
    [InlineData("quiet -- --agent-flag", "quiet console=ttyS0 panic=-1 -- --agent-flag")]
    public void KernelCommandLine_GetsRequiredExtrasOnce(string given, string expected)
    {
        var argv = QemuCommandLine.Build(Sample() with { KernelCommandLine = given });
        Assert.Equal(expected, After(argv, "-append"));
    }

    [Fact]
    public void MaxMemory_AddsSlotsAndMaxmem()
    {
        var argv = QemuCommandLine.Build(Sample() with { MemoryMiB = 512, MaxMemoryMiB = 2048 });
        Assert.Equal("512M,slots=8,maxmem=2048M", After(argv, "-m"));
    }

    [Fact]
    public void MaxMemoryEqualToMemory_MeansNoHotplug()
    {
        // QEMU refuses slots with maxmem equal to the boot size.
        var argv = QemuCommandLine.Build(Sample() with { MemoryMiB = 512, MaxMemoryMiB = 512 });
        Assert.Equal("512M", After(argv, "-m"));
    }

    [Fact]
    public void Firmware_IsPassedAsBios()
    {
        Assert.Equal("/usr/share/qemu/qboot.rom", After(QemuCommandLine.Build(Sample() with { FirmwarePath = "/usr/share/qemu/qboot.rom" }), "-bios"));
        Assert.DoesNotContain("-bios", QemuCommandLine.Build(Sample()));
    }

    [Fact]
    public void MaxVcpus_AddsMaxcpus()
    {
        var argv = QemuCommandLine.Build(Sample() with { Vcpus = 1, MaxVcpus = 4 });
        Assert.Equal("1,maxcpus=4", After(argv, "-smp"));
    }

    [Fact]
    public void MaxVcpusEqualToVcpus_MeansNoHotplug()
    {
        var argv = QemuCommandLine.Build(Sample() with { Vcpus = 2, MaxVcpus = 2, Machine = MachineType.Microvm });
        Assert.Equal("2", After(argv, "-smp"));
    }

    [Fact]
    public void PidFile_AndExtraArgs_ComeLast()
    {
        var argv = QemuCommandLine.Build(Sample() with { PidFile = "/run/moat/c1/qemu.pid", ExtraArgs = ["-S", "-d", "guest_errors"] });
        Assert.Equal(["-pidfile", "/run/moat/c1/qemu.pid", "-S", "-d", "guest_errors"], argv.Skip(argv.Count - 5));
    }

    [Fact]
    public void NoPidFile_NoPidfileOption()
    {
        Assert.DoesNotContain("-pidfile", QemuCommandLine.Build(Sample()));
    }

    [Fact]
    public void TemplateBeingMade_HasFileBackedSharedRamNoBalloonAndMaySpawnItsSaver()
    {
        var argv = QemuCommandLine.Build(Sample() with { MemoryFile = new MemoryFile("/var/lib/moat/templates/k.new/memory", Shared: true), FreePageReporting = false, AllowSpawn = true });
        Assert.Equal("q35,memory-backend=ram0", After(argv, "-machine"));
        Assert.Equal("memory-backend-file,id=ram0,size=512M,mem-path=/var/lib/moat/templates/k.new/memory,share=on", After(argv, "-object"));
        Assert.DoesNotContain(argv, a => a.StartsWith("virtio-balloon", StringComparison.Ordinal));
        Assert.Equal("on,obsolete=deny,elevateprivileges=deny,spawn=allow,resourcecontrol=deny", After(argv, "-sandbox"));
        Assert.DoesNotContain("-incoming", argv);
    }

    [Fact]
    public void CloneOfATemplate_MapsTheFileCopyOnWriteAndWaitsForItsState()
    {
        var argv = QemuCommandLine.Build(Sample() with
        {
            MemoryFile = new MemoryFile("/var/lib/moat/templates/k/memory", Shared: false),
            FreePageReporting = false,
            IncomingStatePath = "/var/lib/moat/templates/k/state",
        });
        Assert.Equal("memory-backend-file,id=ram0,size=512M,mem-path=/var/lib/moat/templates/k/memory,share=off", After(argv, "-object"));
        Assert.Equal("defer", After(argv, "-incoming"));
        Assert.Equal(argv.ToList().IndexOf("-m") + 2, argv.ToList().IndexOf("-object"));
        // No balloon: whatever it discarded, QEMU 7.2 would punch out of the template's file.
        Assert.DoesNotContain(argv, a => a.StartsWith("virtio-balloon", StringComparison.Ordinal));
        Assert.Equal("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", After(argv, "-sandbox"));
    }

    public static TheoryData<string, Func<VmConfig, VmConfig>, string> Invalid => new()
    {
        {
            "state path for a shell",
            c => c with { MemoryFile = new("/t/memory", false), FreePageReporting = false, IncomingStatePath = "/t/state; rm -rf /" },
            "VmConfig.IncomingStatePath must hold only letters, digits, '/', '.', '_' and '-': QEMU hands it to a shell (got '/t/state; rm -rf /')"
        },
        {
            "state without its memory",
            c => c with { IncomingStatePath = "/t/state" },
            "VmConfig.IncomingStatePath needs a MemoryFile mapped copy-on-write (Shared = false): the saved state holds no RAM"
        },
        {
            "reporting on a memory file",
            c => c with { MemoryFile = new("/t/memory", true) },
            "VmConfig.FreePageReporting must be off with a MemoryFile: QEMU discards reported pages by punching holes in the file"
        },
        { "relative memory file", c => c with { MemoryFile = new("memory", true), FreePageReporting = false }, "VmConfig.MemoryFile.Path must be an absolute path (got 'memory')" },
        { "empty kernel", c => c with { KernelPath = "" }, "VmConfig.KernelPath must not be empty" },
        { "relative kernel", c => c with { KernelPath = "vmlinuz" }, "VmConfig.KernelPath must be an absolute path (got 'vmlinuz')" },
        { "empty initrd", c => c with { InitrdPath = "" }, "VmConfig.InitrdPath must not be empty" },
        { "relative initrd", c => c with { InitrdPath = "boot/initrd" }, "VmConfig.InitrdPath must be an absolute path (got 'boot/initrd')" },
        { "zero vcpus", c => c with { Vcpus = 0 }, "VmConfig.Vcpus must be at least 1 (got 0)" },
        { "tiny memory", c => c with { MemoryMiB = 32 }, "VmConfig.MemoryMiB must be at least 64 (got 32)" },
        { "maxmem below mem", c => c with { MaxMemoryMiB = 256 }, "VmConfig.MaxMemoryMiB must be at least MemoryMiB (512) (got 256)" },
        { "relative firmware", c => c with { FirmwarePath = "qboot.rom" }, "VmConfig.FirmwarePath must be an absolute path (got 'qboot.rom')" },
        { "maxcpus below cpus", c => c with { MaxVcpus = 1 }, "VmConfig.MaxVcpus must be at least Vcpus (2) (got 1)" },
        { "cpu hotplug on microvm", c => c with { Machine = MachineType.Microvm, MaxVcpus = 4 }, "VmConfig.MaxVcpus must equal Vcpus on microvm, which cannot hotplug CPUs (got 4): use q35" },
        {
            "duplicate tags",
            c => c with { Shares = [new("data", "/srv/a", false), new("data", "/srv/b", true)] },
            "VmConfig.Shares[1].Tag duplicate share tag 'data'"
        },
        { "tag with space", c => c with { Shares = [new("my data", "/srv/a", false)] }, "VmConfig.Shares[0].Tag must be non-empty without whitespace (got 'my data')" },
        { "relative share", c => c with { Shares = [new("data", "srv/a", false)] }, "VmConfig.Shares[0].HostPath must be an absolute path (got 'srv/a')" },
        { "empty name", c => c with { Name = "" }, "VmConfig.Name must not be empty" },
        { "empty qmp socket", c => c with { QmpSocket = "" }, "VmConfig.QmpSocket must not be empty" },
        { "bare @", c => c with { AgentSocket = "@" }, "VmConfig.AgentSocket abstract socket name after '@' must not be empty" },
        { "relative socket", c => c with { QmpSocket = "qmp.sock" }, "VmConfig.QmpSocket must be an absolute path or an '@abstract' name (got 'qmp.sock')" },
        { "same sockets", c => c with { AgentSocket = c.QmpSocket }, "VmConfig.AgentSocket must differ from QmpSocket (both '/run/moat/c1/qmp.sock')" },
        { "console ring not a power of two", c => c with { ConsoleRingBytes = 100_000 }, "VmConfig.ConsoleRingBytes must be a power of two of at least 4096 (got 100000)" },
        { "zero tb-size", c => c with { TcgTranslationCacheMiB = 0 }, "VmConfig.TcgTranslationCacheMiB must be at least 1 (got 0)" },
        { "negative tsc", c => c with { TscKhz = -1 }, "VmConfig.TscKhz must be positive when set (got -1)" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validation_ThrowsArgumentExceptionNamingTheField(string why, Func<VmConfig, VmConfig> mutate, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => QemuCommandLine.Build(mutate(Sample())));
        Assert.True(message == ex.Message, $"{why}: expected '{message}', got '{ex.Message}'");
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void OverlongSocketPath_IsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => QemuCommandLine.Build(Sample() with { QmpSocket = "/" + new string('q', 120) }));
        Assert.StartsWith("VmConfig.QmpSocket is 121 bytes long", ex.Message, StringComparison.Ordinal);
    }

    private static string After(IReadOnlyList<string> argv, string option)
    {
        int i = argv.ToList().IndexOf(option);
        Assert.True(i >= 0 && i + 1 < argv.Count, $"{option} missing from: {string.Join(' ', argv)}");
        return argv[i + 1];
    }
}
