namespace Moat.Hypervisor.Tests;

/// <summary>Runs the installed QEMU (TCG, paused with -S, no guest code executes). Skipped without QEMU.</summary>
public sealed class RealQemuTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [QemuFact]
    public async Task Smoke_QmpAgainstRealQemu_QueryStatusThenQuit()
    {
        string qmp = "@moat-smoke-" + Guid.NewGuid().ToString("N");
        await using var qemu = QemuProcess.Start(QemuFactAttribute.Binary,
        [
            "-machine", "q35", "-accel", "tcg", "-nodefaults", "-nographic", "-display", "none", "-S",
            "-chardev", $"socket,id=qmp,path={qmp[1..]},server=on,wait=off,abstract=on",
            "-mon", "chardev=qmp,mode=control",
        ]);

        await using var client = await qemu.ConnectQmpAsync(qmp, Timeout);
        Assert.Matches(@"^\d+\.\d+\.\d+$", client.QemuVersion);
        Assert.Contains(await client.QueryStatusAsync(CancellationToken.None).WaitAsync(Timeout), new[] { "prelaunch", "paused" });

        await client.QuitAsync(CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal(0, await qemu.WaitForExitAsync(Timeout));
        await client.Completion.WaitAsync(Timeout);
    }

    /// <summary>
    /// QEMU accepts the argv <see cref="QemuCommandLine.Build"/> produces. A stub kernel (just a valid
    /// bzImage setup header) is enough because -S keeps the vCPUs from ever running it.
    /// </summary>
    [QemuTheory]
    [InlineData(MachineType.Q35)]
    [InlineData(MachineType.Microvm)]
    public async Task BuiltCommandLine_IsAcceptedByRealQemu(MachineType machine)
    {
        var dir = Directory.CreateTempSubdirectory("moat-qemu-");
        try
        {
            string kernel = Path.Combine(dir.FullName, "vmlinuz");
            await File.WriteAllBytesAsync(kernel, StubBzImage());
            string initrd = Path.Combine(dir.FullName, "initrd.img");
            await File.WriteAllBytesAsync(initrd, new byte[4096]);
            string share = Directory.CreateDirectory(Path.Combine(dir.FullName, "share,with,commas")).FullName;
            string id = Guid.NewGuid().ToString("N");
            var cfg = new VmConfig
            {
                QemuBinary = QemuFactAttribute.Binary,
                Name = $"moat-test,{machine}",
                Machine = machine,
                Accelerator = Accel.Tcg,
                TcgTranslationCacheMiB = 32,
                Vcpus = 2,
                MemoryMiB = 256,
                MaxMemoryMiB = 1024,
                KernelPath = kernel,
                InitrdPath = initrd,
                KernelCommandLine = "quiet",
                QmpSocket = $"@moat-test-qmp-{id}",
                AgentSocket = $"@moat-test-agent-{id}",
                Shares = [new SharedDirectory("rootfs", share, ReadOnly: false), new SharedDirectory("ro", share, ReadOnly: true)],
                TscKhz = 2_000_000,
                PidFile = Path.Combine(dir.FullName, "qemu.pid"),
                ExtraArgs = ["-S"],
            };

            await using var qemu = QemuProcess.Start(cfg.QemuBinary, QemuCommandLine.Build(cfg));
            await using var client = await qemu.ConnectQmpAsync(cfg.QmpSocket, Timeout);
            Assert.Equal("prelaunch", await client.QueryStatusAsync(CancellationToken.None).WaitAsync(Timeout));
            Assert.Equal(qemu.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), (await File.ReadAllTextAsync(cfg.PidFile)).Trim());
            var ring = await client.ExecuteAsync("ringbuf-read", new System.Text.Json.Nodes.JsonObject { ["device"] = "console", ["size"] = 4096, ["format"] = "utf8" }, CancellationToken.None).WaitAsync(Timeout);
            Assert.Equal("", ring.GetString()); // the console is a ring buffer QMP can read (empty: the guest never ran)

            await client.QuitAsync(CancellationToken.None).WaitAsync(Timeout);
            Assert.Equal(0, await qemu.WaitForExitAsync(Timeout));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>64 KiB with a Linux boot-protocol 2.15 setup header ("HdrS", 4 setup sectors, loaded high).</summary>
    private static byte[] StubBzImage()
    {
        var image = new byte[64 * 1024];
        image[0x1F1] = 4;
        image[0x1FE] = 0x55;
        image[0x1FF] = 0xAA;
        "HdrS"u8.CopyTo(image.AsSpan(0x202));
        BitConverter.TryWriteBytes(image.AsSpan(0x206), (ushort)0x020F);
        image[0x211] = 1;
        BitConverter.TryWriteBytes(image.AsSpan(0x22C), 0x37FFFFFF);
        BitConverter.TryWriteBytes(image.AsSpan(0x238), 2048);
        return image;
    }
}
