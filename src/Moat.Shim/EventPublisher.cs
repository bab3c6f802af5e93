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

    /// <summary>
    /// Events wait here, in order, while containerd is away (restarting). Bounded: only OOM kills
    /// can come fast (the guest's, at most 100 a second), and past this many the oldest go.
    /// </summary>
    private readonly Channel<(string Topic, IMessage Event)> _queue = Channel.CreateBounded<(string, IMessage)>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });

    private const int QueueCapacity = 4096;

    /// <summary>How long one event is retried while containerd cannot be reached: a restart of containerd fits in it.</summary>
    private static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(2);
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
            var giveUp = DateTime.UtcNow + RetryFor;
            for (var wait = FirstRetry; ; wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxRetry.Ticks)))
            {
                try
                {
                    _client ??= await TtrpcClient.ConnectUnixAsync(_address.Replace("unix://", "", StringComparison.Ordinal), CancellationToken.None);
                    await _client.CallAsync(Service, "Forward", request, Empty.Parser,
                        new CallOptions { Timeout = TimeSpan.FromSeconds(5), Metadata = new Dictionary<string, string> { ["containerd-namespace-ttrpc"] = _namespace } });
                    break;
                }
                catch (TtrpcException ex) when (ex.Code is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded))
                {
                    _log($"publish {topic}: containerd refused it: {ex.Message}");
                    break;
                }
                catch (Exception ex) when (ex is TtrpcException or IOException or System.Net.Sockets.SocketException)
                {
                    if (_client is not null)
                    {
                        await _client.DisposeAsync();
                        _client = null;
                    }
                    if (DateTime.UtcNow > giveUp)
                    {
                        _log($"publish {topic}: {ex.Message}: containerd unreachable for {RetryFor.TotalSeconds:0} s, event dropped");
                        break;
                    }
                    await Task.Delay(wait);
                }
            }
        }
    }
}
