namespace Moat.Ttrpc;

/// <summary>Server-side view of one incoming call.</summary>
public sealed class TtrpcCallContext
{
    internal TtrpcCallContext(
        string service,
        string method,
        IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken)
    {
        Service = service;
        Method = method;
        Metadata = metadata;
        CancellationToken = cancellationToken;
    }

    public string Service { get; }

    public string Method { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Cancelled when the request deadline (<c>timeout_nano</c>) passes or the connection closes.</summary>
    public CancellationToken CancellationToken { get; }
}
