using System.Runtime.InteropServices;
using Moat.Linux.Interop;

namespace Moat.Linux;

/// <summary>
/// A classic BPF seccomp program, written with labels instead of jump offsets. Enough for small
/// hand-written policies (which system calls, which argument bits); the container profiles of the
/// OCI spec are not built with it.
/// </summary>
public sealed class SeccompProgram
{
    private const int OffsetNr = 0, OffsetArch = 4, OffsetArgs = 16;

    private readonly List<(Libc.sock_filter Insn, string? True, string? False)> _code = [];
    private readonly Dictionary<string, int> _labels = [];

    public int Count => _code.Count;

    /// <summary>Loads the system call number.</summary>
    public SeccompProgram LoadNr() => Add(Libc.BPF_LD | Libc.BPF_W | Libc.BPF_ABS, OffsetNr);

    /// <summary>Loads the audit architecture.</summary>
    public SeccompProgram LoadArch() => Add(Libc.BPF_LD | Libc.BPF_W | Libc.BPF_ABS, OffsetArch);

    /// <summary>Loads the low 32 bits of argument <paramref name="index"/> (x86_64 is little-endian).</summary>
    public SeccompProgram LoadArgLow(int index) => Add(Libc.BPF_LD | Libc.BPF_W | Libc.BPF_ABS, (uint)(OffsetArgs + 8 * index));

    public SeccompProgram And(uint mask) => Add(Libc.BPF_ALU | Libc.BPF_AND | Libc.BPF_K, mask);

    /// <summary>Jumps to <paramref name="then"/> when A == k, else to <paramref name="otherwise"/> (null: the next instruction).</summary>
    public SeccompProgram JumpIfEqual(uint k, string? then, string? otherwise = null) => Jump(Libc.BPF_JEQ, k, then, otherwise);

    public SeccompProgram JumpIfAtLeast(uint k, string? then, string? otherwise = null) => Jump(Libc.BPF_JGE, k, then, otherwise);

    /// <summary>Jumps when A &amp; k is not 0.</summary>
    public SeccompProgram JumpIfAnySet(uint k, string? then, string? otherwise = null) => Jump(Libc.BPF_JSET, k, then, otherwise);

    public SeccompProgram Return(uint action) => Add(Libc.BPF_RET | Libc.BPF_K, action);

    public SeccompProgram Label(string name)
    {
        _labels.Add(name, _code.Count);
        return this;
    }

    private SeccompProgram Jump(ushort op, uint k, string? then, string? otherwise)
    {
        _code.Add((new Libc.sock_filter { code = (ushort)(Libc.BPF_JMP | op | Libc.BPF_K), k = k }, then, otherwise));
        return this;
    }

    private SeccompProgram Add(int code, uint k)
    {
        _code.Add((new Libc.sock_filter { code = (ushort)code, k = k }, null, null));
        return this;
    }

    /// <summary>The instructions with every label turned into a forward offset.</summary>
    public Libc.sock_filter[] Assemble()
    {
        var result = new Libc.sock_filter[_code.Count];
        for (var i = 0; i < _code.Count; i++)
        {
            var (insn, t, f) = _code[i];
            insn.jt = Offset(i, t);
            insn.jf = Offset(i, f);
            result[i] = insn;
        }
        return result;
    }

    private byte Offset(int from, string? label)
    {
        if (label is null)
        {
            return 0;
        }
        if (!_labels.TryGetValue(label, out var to))
        {
            throw new InvalidOperationException($"seccomp program: no label {label}");
        }
        var offset = to - from - 1;
        return offset is >= 0 and <= byte.MaxValue ? (byte)offset : throw new InvalidOperationException($"seccomp program: {label} is out of a jump's reach");
    }

    /// <summary>
    /// Installs the program on the calling thread (inherited by children and kept across execve).
    /// The caller must have set no_new_privs or hold CAP_SYS_ADMIN.
    /// </summary>
    public unsafe void Install()
    {
        var code = Assemble();
        fixed (Libc.sock_filter* p = code)
        {
            var prog = new Libc.sock_fprog { len = (ushort)code.Length, filter = (byte*)p };
            ErrnoException.Check(Libc.syscall(Libc.SYS_seccomp, (nint)Libc.SECCOMP_SET_MODE_FILTER, 0, (nint)(&prog), 0, 0), "seccomp(SECCOMP_SET_MODE_FILTER)");
        }
    }
}
