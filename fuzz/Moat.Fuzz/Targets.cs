using Moat.Fuzz.Targets;

namespace Moat.Fuzz;

/// <summary>Every fuzz target, by name.</summary>
internal static class FuzzTargets
{
    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new TtrpcServerTarget(),
        new TtrpcClientTarget(),
        new AgentMessagesTarget(),
        new QmpTarget(),
        new OciSpecTarget(),
        new ConfigTomlTarget(),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
