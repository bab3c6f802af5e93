namespace Moat.Agent.Tests;

public sealed class ExecInterpreterTests
{
    [Fact]
    public void ADynamicElfNamesItsLoaderAndAStaticOneNothing()
    {
        // Real binaries of this machine: a dynamically linked one and busybox-static.
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", ExecInterpreter.Of("/bin/ls"));
        Assert.Null(ExecInterpreter.Of("/bin/busybox"));
    }

    [Theory]
    [InlineData("#!/bin/sh\necho hi\n", "/bin/sh")]
    [InlineData("#! /usr/bin/env python3 -u\n", "/usr/bin/env")]
    [InlineData("#!\t/bin/bash\r\n", "/bin/bash")]
    [InlineData("#!\n", null)]
    [InlineData("echo no shebang\n", null)]
    [InlineData("", null)]
    public void AScriptNamesItsInterpreter(string text, string? expected) =>
        Assert.Equal(expected, ExecInterpreter.Of(System.Text.Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void ATruncatedOrLyingElfIsNotJudged()
    {
        var elf = File.ReadAllBytes("/bin/ls").AsSpan(0, 8192).ToArray();
        Assert.Null(ExecInterpreter.Of(elf.AsSpan(0, 0x40))); // the program headers are past what was read
        var lying = elf.ToArray();
        BitConverter.TryWriteBytes(lying.AsSpan(0x20), long.MaxValue - 8); // e_phoff far out
        Assert.Null(ExecInterpreter.Of(lying));
        lying = elf.ToArray();
        BitConverter.TryWriteBytes(lying.AsSpan(0x36), (ushort)1); // e_phentsize too small
        Assert.Null(ExecInterpreter.Of(lying));
    }

    [Fact]
    public void NoByteFlipOfARealElfThrows()
    {
        var elf = File.ReadAllBytes("/bin/ls").AsSpan(0, 8192).ToArray();
        var random = new Random(18);
        for (var i = 0; i < 20000; i++)
        {
            var copy = elf.ToArray();
            for (var k = 0; k < 4; k++)
            {
                copy[random.Next(0x400)] = (byte)random.Next(256);
            }
            _ = ExecInterpreter.Of(copy.AsSpan(0, random.Next(copy.Length)));
        }
    }

    [Fact]
    public void AFifoIsNeverWaitedOn()
    {
        var dir = Directory.CreateTempSubdirectory("moat-interp-");
        try
        {
            var fifo = Path.Combine(dir.FullName, "fifo");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            {
                mkfifo.WaitForExit();
                Assert.Equal(0, mkfifo.ExitCode);
            }
            Assert.Null(ExecInterpreter.Of(fifo));
            Assert.Null(ExecInterpreter.Of(Path.Combine(dir.FullName, "missing")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
