using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Moat.Protocols.Containerd.EventsService;
using Moat.Ttrpc;

namespace Moat.Shim;

/// <summary>
/// Publishes task events to containerd ($TTRPC_ADDRESS, Events/Forward) strictly in the order
/// they were raised: one queue, one sender.
/// </summary>
internal sealed class EventPublisher
{
    private const string Service = "containerd.services.events.ttrpc.v1.Events";

    private readonly Channel<(string Topic, IMessage Event)> _queue = Channel.CreateUnbounded<(string, IMessage)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _namespace;
    private readonly string? _address;
    private readonly Action<string> _log;
    private TtrpcClient? _client;

    public EventPublisher(string ns, string? address, Action<string> log)
    {
        _namespace = ns;
        _address = address;
        _log = log;
        Completion = Task.Run(SendLoop);
    }

    public Task Completion { get; }

    public void Publish(string topic, IMessage e) => _queue.Writer.TryWrite((topic, e));

    /// <summary>Sends what is queued, then stops.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        await Task.WhenAny(Completion, Task.Delay(timeout));
    }

    private async Task SendLoop()
    {
        await foreach (var (topic, e) in _queue.Reader.ReadAllAsync())
        {
            if (string.IsNullOrEmpty(_address))
            {
                continue;
            }
            var request = new ForwardRequest
            {
                Envelope = new Envelope
                {
                    Timestamp = Timestamp.FromDateTime(DateTime.UtcNow),
                    Namespace = _namespace,
                    Topic = topic,
                    Event = new Any { TypeUrl = e.Descriptor.FullName, Value = e.ToByteString() },
                },
            };
            for (var attempt = 0; attempt < 3; attempt++)
            {
                try
                {
                    _client ??= await TtrpcClient.ConnectUnixAsync(_address.Replace("unix://", "", StringComparison.Ordinal), CancellationToken.None);
                    await _client.CallAsync(Service, "Forward", request, Empty.Parser,
                        new CallOptions { Timeout = TimeSpan.FromSeconds(5), Metadata = new Dictionary<string, string> { ["containerd-namespace-ttrpc"] = _namespace } });
                    break;
                }
                catch (Exception ex) when (ex is TtrpcException or IOException or System.Net.Sockets.SocketException)
                {
                    _log($"publish {topic}: {ex.Message}");
                    if (_client is not null)
                    {
                        await _client.DisposeAsync();
                        _client = null;
                    }
                    await Task.Delay(100);
                }
            }
        }
    }
}
