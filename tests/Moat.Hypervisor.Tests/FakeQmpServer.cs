using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Moat.Hypervisor.Tests;

/// <summary>A scripted QMP server: the test drives it line by line over a real Unix socket.</summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    public const string Greeting =
        """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg"}, "capabilities": ["oob"]}}""";

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private Socket? _peer;
    private NetworkStream? _stream;
    private StreamReader? _reader;

    private FakeQmpServer(Socket listener, string path)
    {
        _listener = listener;
        SocketPath = path;
    }

    /// <summary>'@name' (abstract) or a filesystem path.</summary>
    public string SocketPath { get; }

    /// <summary>Listens on <paramref name="path"/>, or on a fresh abstract name when null.</summary>
    public static FakeQmpServer Listen(string? path = null)
    {
        path ??= "@moat-test-" + Guid.NewGuid().ToString("N");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path.StartsWith('@') ? "\0" + path[1..] : path));
        listener.Listen(1);
        return new FakeQmpServer(listener, path);
    }

    /// <summary>Accepts the client and returns the client-side stream of a fresh socket pair.</summary>
    public static async Task<(FakeQmpServer Server, Stream ClientStream)> PairAsync()
    {
        var server = Listen();
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint("\0" + server.SocketPath[1..])).WaitAsync(Timeout);
        await server.AcceptAsync();
        return (server, new NetworkStream(client, ownsSocket: true));
    }

    public async Task AcceptAsync()
    {
        _peer = await _listener.AcceptAsync().WaitAsync(Timeout);
        _stream = new NetworkStream(_peer, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public async Task SendAsync(string line, string terminator = "\n")
    {
        await Stream.WriteAsync(Encoding.UTF8.GetBytes(line + terminator)).AsTask().WaitAsync(Timeout);
        await Stream.FlushAsync().WaitAsync(Timeout);
    }

    /// <summary>Sends raw bytes (a line that need not be valid UTF-8).</summary>
    public async Task SendBytesAsync(byte[] bytes)
    {
        await Stream.WriteAsync(bytes).AsTask().WaitAsync(Timeout);
        await Stream.FlushAsync().WaitAsync(Timeout);
    }

    /// <summary>Reads the next request; fails the test on EOF or timeout.</summary>
    public async Task<JsonObject> ReceiveAsync()
    {
        string? line = await Reader.ReadLineAsync().WaitAsync(Timeout);
        Assert.NotNull(line);
        return Assert.IsType<JsonObject>(JsonNode.Parse(line));
    }

    /// <summary>Reads the next request and checks it executes <paramref name="command"/>.</summary>
    public async Task<JsonObject> ExpectAsync(string command)
    {
        var request = await ReceiveAsync();
        Assert.Equal(command, (string?)request["execute"]);
        Assert.NotNull(request["id"]);
        return request;
    }

    public Task ReplyAsync(JsonObject request, string returnJson) =>
        SendAsync($$"""{"return": {{returnJson}}, "id": {{request["id"]!.ToJsonString()}}}""");

    public Task ReplyErrorAsync(JsonObject request, string errorClass, string desc) =>
        SendAsync($$"""{"error": {"class": "{{errorClass}}", "desc": "{{desc}}"}, "id": {{request["id"]!.ToJsonString()}}}""");

    public Task SendEventAsync(string name, string dataJson) =>
        SendAsync($$"""{"timestamp": {"seconds": 1700000000, "microseconds": 1}, "event": "{{name}}", "data": {{dataJson}}}""");

    /// <summary>Greeting plus the qmp_capabilities exchange, as QEMU does it.</summary>
    public async Task HandshakeAsync()
    {
        await SendAsync(Greeting);
        var caps = await ExpectAsync("qmp_capabilities");
        await ReplyAsync(caps, "{}");
    }

    /// <summary>Whether the client sends nothing more (or closes) within <paramref name="window"/>.</summary>
    public async Task<bool> StaysSilentAsync(TimeSpan window)
    {
        var read = Reader.ReadLineAsync();
        var done = await Task.WhenAny(read, Task.Delay(window));
        if (done != read)
        {
            _pendingRead = read;
            return true;
        }

        return false;
    }

    /// <summary>After <see cref="StaysSilentAsync"/> returned true, the line that eventually arrived.</summary>
    public async Task<JsonObject> ReceivePendingAsync()
    {
        var read = _pendingRead ?? throw new InvalidOperationException("no pending read");
        _pendingRead = null;
        string? line = await read.WaitAsync(Timeout);
        Assert.NotNull(line);
        return Assert.IsType<JsonObject>(JsonNode.Parse(line));
    }

    /// <summary>Closes the server side of the connection (the client sees EOF).</summary>
    public void CloseConnection()
    {
        _peer?.Shutdown(SocketShutdown.Both);
        _stream?.Dispose();
    }

    /// <summary>Returns true when the client closed its end (EOF) within the timeout.</summary>
    public async Task<bool> SeesEofAsync()
    {
        try
        {
            return await Reader.ReadLineAsync().WaitAsync(Timeout) is null;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        _stream?.Dispose();
        _listener.Dispose();
        if (!SocketPath.StartsWith('@'))
        {
            File.Delete(SocketPath);
        }

        return ValueTask.CompletedTask;
    }

    private Task<string?>? _pendingRead;

    private Stream Stream => _stream ?? throw new InvalidOperationException("not accepted yet");

    private StreamReader Reader => _reader ?? throw new InvalidOperationException("not accepted yet");
}
