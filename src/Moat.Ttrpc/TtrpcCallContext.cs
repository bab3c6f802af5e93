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

    /// <summary>What runs once the reply has left; see <see cref="AfterReply"/>.</summary>
    internal Action? ReplyLeft { get; private set; }

    /// <summary>
    /// Runs <paramref name="action"/> on the thread pool once this call's reply has been written
    /// (or dropped, the connection having closed): a handler that stops its own server (a shim's
    /// Shutdown) does it there, so that its caller still hears the reply.
    /// </summary>
    public void AfterReply(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ReplyLeft += () => ThreadPool.UnsafeQueueUserWorkItem(static a => a(), action, preferLocal: false);
    }
}
