using System.Text;
using Moat.Runtime;

namespace Moat.Fuzz.Targets;

/// <summary>
/// Moat's configuration file (TOML, Tomlyn) as read by the shim and the CLI: the input is the
/// file's bytes. The only rejection is <see cref="RuntimeException"/> naming the bad key.
/// </summary>
internal sealed class ConfigTomlTarget : FuzzTarget
{
    public override string Name => "config-toml";

    public override string Description => "configuration.toml bytes -> Tomlyn, MoatConfig.Apply; RuntimeException";

    protected override void Execute(byte[] input)
    {
        var options = MoatConfig.Apply(new RuntimeOptions(), Encoding.UTF8.GetString(input), "configuration.toml");
        _ = options.VcpuCeiling;
    }

    protected override bool IsRejection(Exception e) => e is RuntimeException;
}
