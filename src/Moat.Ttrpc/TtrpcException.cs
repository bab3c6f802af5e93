namespace Moat.Ttrpc;

/// <summary>A ttrpc call failed with a non-OK status (remote or local).</summary>
public sealed class TtrpcException : Exception
{
    public TtrpcException(StatusCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public StatusCode Code { get; }
}
