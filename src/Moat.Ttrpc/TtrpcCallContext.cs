namespace Moat.Ttrpc;

/// <summary>Server-side view of one incoming call.</summary>
public sealed class TtrpcCallContext
{
    private readonly Lock _lock = new();
    private readonly Action<string>? _log;
    private List<Action>? _afterReply;
    private bool _replied;

    internal TtrpcCallContext(
        string service,
        string method,
        IReadOnlyDictionary<string, string> metadata,
        CancellationToken cancellationToken,
        Action<string>? log = null)
    {
        _log = log;
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

    /// <summary>
    /// Runs <paramref name="action"/> on the thread pool once this call's reply has been written
    /// (or dropped, the connection having closed): a handler that stops its own server (a shim's
    /// Shutdown) does it there, so that its caller still hears the reply. An exception it throws is
    /// logged. Only a handler can ask it, before it returns.
    /// </summary>
    public void AfterReply(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (_lock)
        {
            if (_replied)
            {
                throw new InvalidOperationException($"{Service}.{Method}: AfterReply once the reply has gone");
            }
            (_afterReply ??= []).Add(action);
        }
    }

    /// <summary>Closes the list of actions as the reply is queued; what runs them once it has left, or null.</summary>
    internal Action? TakeAfterReply()
    {
        List<Action>? actions;
        lock (_lock)
        {
            _replied = true;
            actions = _afterReply;
        }
        return actions is null ? null : () => ThreadPool.UnsafeQueueUserWorkItem(static state => state.Context.Run(state.Actions), (Context: this, Actions: actions), preferLocal: false);
    }

    private void Run(List<Action> actions)
    {
        foreach (var a in actions)
        {
            try
            {
                a();
            }
            catch (Exception e)
            {
                _log?.Invoke($"{Service}.{Method}: an action after the reply failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
