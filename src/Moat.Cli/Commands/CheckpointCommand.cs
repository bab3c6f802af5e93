using System.CommandLine;
using Moat.Runtime;

namespace Moat.Cli.Commands;

/// <summary><c>moat checkpoint</c> and <c>moat restore</c>: refused clearly (CRIU cannot see into a VM).</summary>
internal static class CheckpointCommand
{
    public static Command Create(string verb)
    {
        var id = new Argument<string>("container-id");
        var cmd = new Command(verb, $"{verb} a container (not supported by Moat)") { id };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction(_ => ErrorReporter.Guard(() => throw new RuntimeException(RuntimeErrorKind.FailedPrecondition,
            $"{verb} is not supported by Moat: CRIU cannot {(verb == "restore" ? "restore" : "checkpoint")} processes inside a VM; stop and re-create the container instead")));
        return cmd;
    }
}
