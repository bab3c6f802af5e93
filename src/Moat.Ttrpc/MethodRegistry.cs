using System.Collections.Concurrent;

namespace Moat.Ttrpc;

/// <summary>Thread-safe service → method → handler table of a <see cref="TtrpcServer"/>.</summary>
internal sealed class MethodRegistry
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, UnaryMethod>> _services =
        new(StringComparer.Ordinal);

    public void Add(string service, string method, UnaryMethod handler)
    {
        var methods = _services.GetOrAdd(service, _ => new ConcurrentDictionary<string, UnaryMethod>(StringComparer.Ordinal));
        if (!methods.TryAdd(method, handler))
        {
            throw new InvalidOperationException($"a handler for {service}.{method} is already registered");
        }
    }

    /// <summary>Finds the handler or throws <see cref="TtrpcException"/> with <see cref="StatusCode.Unimplemented"/>.</summary>
    public UnaryMethod Resolve(string service, string method)
    {
        if (!_services.TryGetValue(service, out var methods))
        {
            throw new TtrpcException(StatusCode.Unimplemented, $"unknown service {service}");
        }

        if (!methods.TryGetValue(method, out var handler))
        {
            throw new TtrpcException(StatusCode.Unimplemented, $"unknown method {service}.{method}");
        }

        return handler;
    }
}
