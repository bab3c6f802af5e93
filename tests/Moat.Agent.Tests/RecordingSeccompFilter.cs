using Moat.Linux;
using Moat.Linux.Interop;

namespace Moat.Agent.Tests;

/// <summary>An <see cref="ISeccompFilter"/> that records each libseccomp call as a line of text.</summary>
internal sealed class RecordingSeccompFilter : ISeccompFilter
{
    /// <summary>x86_64 numbers of the calls the tests use; any other name is unknown, as to an old libseccomp.</summary>
    private static readonly Dictionary<string, int> Syscalls = new(StringComparer.Ordinal)
    {
        ["read"] = 0, ["write"] = 1, ["socket"] = 41, ["clone"] = 56, ["personality"] = 135, ["mount"] = 165, ["sethostname"] = 170,
    };

    private static readonly HashSet<string> Architectures = ["x86_64", "x86", "x32", "aarch64"];

    public RecordingSeccompFilter(uint defaultAction) => Calls.Add($"init 0x{defaultAction:x8}");

    public List<string> Calls { get; } = [];

    public bool Disposed { get; private set; }

    /// <summary>The calls after init and the attributes: the architectures and rules only.</summary>
    public IEnumerable<string> Rules => Calls.Where(c => c.StartsWith("rule ", StringComparison.Ordinal));

    public bool AddArchitecture(string name)
    {
        if (!Architectures.Contains(name))
        {
            return false;
        }
        Calls.Add($"arch {name}");
        return true;
    }

    public void SetAttribute(int attribute, uint value) => Calls.Add($"attr {attribute}={value}");

    public int? ResolveSyscall(string name) => Syscalls.TryGetValue(name, out var nr) ? nr : null;

    public void AddRule(uint action, int syscall, ReadOnlySpan<Libseccomp.scmp_arg_cmp> conditions)
    {
        var args = new List<string>();
        foreach (var c in conditions)
        {
            args.Add($"a{c.arg} op{c.op} 0x{c.datum_a:x} 0x{c.datum_b:x}");
        }
        Calls.Add($"rule 0x{action:x8} {syscall} [{string.Join("; ", args)}]");
    }

    public void Compile() => Calls.Add("compile");

    public void Load() => Calls.Add("load");

    public void Dispose() => Disposed = true;
}
