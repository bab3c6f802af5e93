namespace Moat.Ttrpc;

/// <summary>Per-call options for <see cref="TtrpcClient.CallAsync{TRequest, TResponse}"/>.</summary>
public sealed class CallOptions
{
    /// <summary>
    /// Deadline relative to the start of the call. Sent to the server as <c>timeout_nano</c> and
    /// also enforced locally (the call fails with <see cref="StatusCode.DeadlineExceeded"/>).
    /// <c>null</c> or <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> means no deadline;
    /// zero or negative fails the call immediately.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Metadata sent with the request (one <c>KeyValue</c> per entry).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}
