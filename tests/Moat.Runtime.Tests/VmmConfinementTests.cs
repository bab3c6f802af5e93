using Moat.Linux.Interop;

namespace Moat.Runtime.Tests;

/// <summary>
/// The seccomp filter put on QEMU, run by a small classic-BPF interpreter over the seccomp_data a
/// system call would carry: set-id modes and device nodes are refused, everything else passes.
/// </summary>
public sealed class VmmConfinementTests
{
    private const uint Allow = Libc.SECCOMP_RET_ALLOW, Eperm = Libc.SECCOMP_RET_ERRNO | Libc.EPERM, Enosys = Libc.SECCOMP_RET_ERRNO | Libc.ENOSYS;
    private const uint OpenatNr = 257, ChmodNr = 90, FchmodatNr = 268, MknodatNr = 259, OpenNr = 2, CreatNr = 85, ReadNr = 0, Openat2Nr = 437;
    private const uint O_CREAT = 0x40, O_RDONLY = 0, O_TMPFILE = 0x410000;

    /// <summary>Runs the program over (arch, nr, args): the interpreter knows what the filter uses.</summary>
    private static uint Run(uint nr, ulong[] args, uint arch = Libc.AUDIT_ARCH_X86_64)
    {
        var data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        for (var i = 0; i < args.Length; i++)
        {
            BitConverter.TryWriteBytes(data.AsSpan(16 + 8 * i), args[i]);
        }
        var code = VmmConfinement.HostFileGuard().Assemble();
        uint a = 0;
        for (var pc = 0; pc < code.Length; pc++)
        {
            var insn = code[pc];
            switch (insn.code)
            {
                case Libc.BPF_LD | Libc.BPF_W | Libc.BPF_ABS:
                    a = BitConverter.ToUInt32(data, (int)insn.k);
                    break;
                case Libc.BPF_ALU | Libc.BPF_AND | Libc.BPF_K:
                    a &= insn.k;
                    break;
                case Libc.BPF_JMP | Libc.BPF_JEQ | Libc.BPF_K:
                    pc += a == insn.k ? insn.jt : insn.jf;
                    break;
                case Libc.BPF_JMP | Libc.BPF_JGE | Libc.BPF_K:
                    pc += a >= insn.k ? insn.jt : insn.jf;
                    break;
                case Libc.BPF_JMP | Libc.BPF_JSET | Libc.BPF_K:
                    pc += (a & insn.k) != 0 ? insn.jt : insn.jf;
                    break;
                case Libc.BPF_RET | Libc.BPF_K:
                    return insn.k;
                default:
                    throw new InvalidOperationException($"instruction {insn.code:x} not interpreted");
            }
        }
        throw new InvalidOperationException("fell off the end of the program");
    }

    [Theory]
    [InlineData(ChmodNr, 0, 0x9ed, Eperm)]     // chmod(path, 04755)
    [InlineData(ChmodNr, 0, 0x5ed, Eperm)]     // chmod(path, 02755)
    [InlineData(ChmodNr, 0, 0x1ed, Allow)]     // chmod(path, 0755)
    [InlineData(FchmodatNr, 0, 0x9ed, Eperm)]  // fchmodat(dirfd, path, 04755)
    [InlineData(FchmodatNr, 0, 0x1a4, Allow)]
    [InlineData(CreatNr, 0, 0x9ed, Eperm)]     // creat(path, 04755)
    public void SetIdModesAreRefused(uint nr, ulong arg0, ulong mode, uint expected)
    {
        var args = nr == FchmodatNr ? new[] { arg0, 0UL, mode } : new[] { arg0, mode };
        Assert.Equal(expected, Run(nr, args));
    }

    [Fact]
    public void OpenRefusesASetIdModeOnlyWhenItCreates()
    {
        Assert.Equal(Eperm, Run(OpenatNr, [0, 0, O_CREAT, 0x9ed]));
        Assert.Equal(Eperm, Run(OpenatNr, [0, 0, O_TMPFILE, 0x5ed]));
        Assert.Equal(Allow, Run(OpenatNr, [0, 0, O_CREAT, 0x1a4]));
        Assert.Equal(Allow, Run(OpenatNr, [0, 0, O_RDONLY, 0x9ed])); // the mode is not looked at without O_CREAT
        Assert.Equal(Eperm, Run(OpenNr, [0, O_CREAT, 0x9ed]));
        Assert.Equal(Allow, Run(OpenNr, [0, O_RDONLY, 0xffffffff]));
        Assert.Equal(Enosys, Run(Openat2Nr, [0, 0, 0, 0]));
    }

    [Theory]
    [InlineData(0x2000u | 0x1a4, Eperm)] // S_IFCHR
    [InlineData(0x6000u | 0x1a4, Eperm)] // S_IFBLK
    [InlineData(0x1000u | 0x1a4, Allow)] // S_IFIFO
    [InlineData(0xc000u | 0x1a4, Allow)] // S_IFSOCK
    [InlineData(0x8000u | 0x1a4, Allow)] // S_IFREG
    public void DeviceNodesAreRefused(uint mode, uint expected) => Assert.Equal(expected, Run(MknodatNr, [0, 0, mode, 0]));

    [Fact]
    public void OtherCallsPassOtherArchitecturesDie()
    {
        Assert.Equal(Allow, Run(ReadNr, [0, 0, 0]));
        Assert.Equal(Enosys, Run(Libc.X32_SYSCALL_BIT | OpenatNr, [0, 0, O_CREAT, 0x9ed]));
        Assert.Equal(Libc.SECCOMP_RET_KILL_PROCESS, Run(ReadNr, [], arch: 0x40000003 /* AUDIT_ARCH_I386 */));
    }

    [Fact]
    public void QemuKeepsOnlyWhat9pNeeds() =>
        Assert.Equal(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"], VmmConfinement.KeptCapabilities);
}
