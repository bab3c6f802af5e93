using Moat.Runtime;

namespace Moat.Cli.Runc;

/// <summary>A container's state.json under --root that cannot be read as a record (partial, foreign, or naming another id).</summary>
internal sealed class CorruptRecordException : RuntimeException
{
    public CorruptRecordException(string message)
        : base(RuntimeErrorKind.Internal, message)
    {
    }
}
