using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Moat.Hypervisor;

/// <summary>
/// A QEMU Machine Protocol client. One reader loop dispatches replies (matched by "id") and events;
/// one writer loop drains the command queue and sends one command at a time, waiting for its reply
/// before sending the next. Thread-safe.
/// </summary>
/// <remarks>
/// <para>Lifetime: the first failure (EOF, I/O error, protocol violation, <see cref="Abort"/>, dispose)
/// closes the stream, fails every queued and in-flight command, completes <see cref="Events"/> and
/// settles <see cref="Completion"/>.</para>
/// <para>JSON is handled with <see cref="JsonDocument"/>/<see cref="JsonNode"/> and <see cref="Utf8JsonWriter"/>
/// only (trim/AOT safe).</para>
/// </remarks>
public sealed class QmpClient : IAsyncDisposable
{
    /// <summary>Unread events beyond this are dropped, oldest first, so an unobserved VM cannot grow memory.</summary>
    internal const int EventCapacity = 1024;

    /// <summary>
    /// Events longer than this keep no data and names are cut to <see cref="MaxEventNameLength"/>, so the
    /// unread events QEMU may queue (<see cref="EventCapacity"/>) pin at most a few MiB, not 1024 lines of
    /// 16 MiB. QEMU's own events are a few hundred bytes.
    /// </summary>
    internal const int MaxEventBytes = 8 * 1024;

    internal const int MaxEventNameLength = 64;

    private const int PreviewBytes = 200;

    /// <summary>How long QEMU may take to greet and accept <c>qmp_capabilities</c> once connected.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly Stream _stream;
    private readonly QmpLineReader _lines;
    private readonly Channel<QmpPendingCommand> _commands =
        Channel.CreateUnbounded<QmpPendingCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<QmpEvent> _events =
        Channel.CreateBounded<QmpEvent>(new BoundedChannelOptions(EventCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleWriter = true,
        });
    private readonly ConcurrentDictionary<long, QmpPendingCommand> _pending = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Exception? _abortReason;
    private QmpPendingCommand? _inFlight;
    private volatile bool _peerClosed;
    private volatile bool _quitSent;
    private volatile bool _disposing;
    private int _disposed;
    private long _nextId;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;

    private QmpClient(Stream stream)
    {
        _stream = stream;
        _lines = new QmpLineReader(stream);
    }

    /// <summary>QEMU version from the greeting, "major.minor.micro" (e.g. "7.2.22"); empty if not announced.</summary>
    public string QemuVersion { get; private set; } = string.Empty;

    /// <summary>Capabilities offered in the greeting (e.g. "oob"); none are enabled by this client.</summary>
    public IReadOnlyList<string> ServerCapabilities { get; private set; } = [];

    /// <summary>
    /// Asynchronous events in arrival order. Completes (without error) when the connection ends;
    /// see <see cref="Completion"/> for why. Bounded to <see cref="EventCapacity"/>, dropping the oldest.
    /// </summary>
    public ChannelReader<QmpEvent> Events => _events.Reader;

    /// <summary>
    /// Settles when the connection ends: succeeds after <see cref="DisposeAsync"/> or when the peer closed
    /// after a <c>quit</c> was sent; otherwise faults with the first abort reason
    /// (<see cref="EndOfStreamException"/> for an unexpected EOF, <see cref="QmpProtocolException"/>, ...).
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Connects to QEMU's QMP Unix socket (<paramref name="socketPath"/> starting with '@' = abstract name)
    /// and performs the greeting / <c>qmp_capabilities</c> handshake. Does not retry: a launcher waiting
    /// for QEMU to create the socket should retry on <see cref="IOException"/>.
    /// </summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(Moat.Linux.UnixSocketPath.ToEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"QMP: cannot connect to '{socketPath}': {ex.Message}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return await ConnectAsync(new NetworkStream(socket, ownsSocket: true), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the QMP handshake over an already connected stream. The client owns <paramref name="stream"/>
    /// from here on (it is disposed on failure and by <see cref="DisposeAsync"/>).
    /// </summary>
    public static async Task<QmpClient> ConnectAsync(Stream stream, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var client = new QmpClient(stream);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(ct);
        handshake.CancelAfter(HandshakeTimeout);
        try
        {
            await client.ReadGreetingAsync(handshake.Token).ConfigureAwait(false);
            client.StartLoops();
            await client.ExecuteAsync("qmp_capabilities", null, handshake.Token).ConfigureAwait(false);
            return client;
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"QMP: no greeting and capabilities handshake within {HandshakeTimeout.TotalSeconds:F0} s", e);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Queues <paramref name="command"/> and returns its <c>"return"</c> value (an owned element).
    /// Throws <see cref="QmpException"/> on a QMP error reply and <see cref="IOException"/> if the
    /// connection ends first. Cancelling <paramref name="ct"/> withdraws a command that was not sent yet;
    /// a command already sent still runs in QEMU (its reply is then discarded).
    /// </summary>
    public Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        return ExecuteCoreAsync(command, arguments, isQuit: false, ct);
    }

    /// <summary>Runs <c>query-status</c> and returns its "status" ("running", "paused", "prelaunch", "shutdown", ...).</summary>
    public async Task<string> QueryStatusAsync(CancellationToken ct)
    {
        var result = await ExecuteAsync("query-status", null, ct).ConfigureAwait(false);
        if (result.ValueKind == JsonValueKind.Object
            && result.TryGetProperty("status", out var status)
            && status.ValueKind == JsonValueKind.String)
        {
            return status.GetString()!;
        }

        throw new QmpProtocolException($"QMP: query-status returned no status: {result.GetRawText()}");
    }

    /// <summary>Pauses all vCPUs (<c>stop</c>).</summary>
    public Task StopAsync(CancellationToken ct) => ExecuteAsync("stop", null, ct);

    /// <summary>Resumes all vCPUs (<c>cont</c>).</summary>
    public Task ContinueAsync(CancellationToken ct) => ExecuteAsync("cont", null, ct);

    /// <summary>Sends an ACPI power-button press (<c>system_powerdown</c>); the guest may ignore it.</summary>
    public Task SystemPowerdownAsync(CancellationToken ct) => ExecuteAsync("system_powerdown", null, ct);

    /// <summary>
    /// Asks QEMU to exit (<c>quit</c>). QEMU may close the socket before or instead of replying:
    /// the connection closing (EOF, reset, broken pipe) once quit was sent counts as success.
    /// </summary>
    public async Task QuitAsync(CancellationToken ct) =>
        _ = await ExecuteCoreAsync("quit", null, isQuit: true, ct).ConfigureAwait(false);

    /// <summary>
    /// Ends the connection with <paramref name="reason"/>. Idempotent: only the first reason is kept.
    /// Queued and in-flight commands fail with an <see cref="IOException"/> wrapping the reason.
    /// </summary>
    public void Abort(Exception reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (Interlocked.CompareExchange(ref _abortReason, reason, null) is not null)
        {
            return;
        }

        _commands.Writer.TryComplete();
        _shutdown.Cancel();
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                Fail(pending, reason);
            }
        }

        while (_commands.Reader.TryRead(out var queued))
        {
            Fail(queued, reason);
        }

        _events.Writer.TryComplete();
        try
        {
            _stream.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Closing a broken stream can fail; the connection is gone either way.
        }

        if (_disposing || (_quitSent && _peerClosed))
        {
            _completion.TrySetResult();
        }
        else
        {
            _completion.TrySetException(reason);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposing = true;
        Abort(new ObjectDisposedException(nameof(QmpClient), "The QMP client was disposed."));
        await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _shutdown.Dispose();
    }

    private async Task<JsonElement> ExecuteCoreAsync(string command, JsonObject? arguments, bool isQuit, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        long id = Interlocked.Increment(ref _nextId);
        var entry = new QmpPendingCommand(id, command, Serialize(id, command, arguments), isQuit);
        if (!_commands.Writer.TryWrite(entry))
        {
            throw CommandFailure(command, Volatile.Read(ref _abortReason)!);
        }

        try
        {
            return await entry.Reply.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            entry.TryCancelQueued(ct);
            throw;
        }
    }

    private async Task ReadGreetingAsync(CancellationToken ct)
    {
        while (true)
        {
            var line = await _lines.ReadLineAsync(ct).ConfigureAwait(false)
                ?? throw new EndOfStreamException("QMP: connection closed before the greeting");
            if (IsBlank(line.Span))
            {
                continue;
            }

            using var doc = ParseObject(line);
            if (!doc.RootElement.TryGetProperty("QMP", out var qmp) || qmp.ValueKind != JsonValueKind.Object)
            {
                throw new QmpProtocolException($"QMP: expected the {{\"QMP\": ...}} greeting, got: {Preview(line.Span)}");
            }

            QemuVersion = ParseVersion(qmp);
            ServerCapabilities = ParseCapabilities(qmp);
            return;
        }
    }

    private void StartLoops()
    {
        _readLoop = ReadLoopAsync();
        _writeLoop = WriteLoopAsync();
    }

    private async Task ReadLoopAsync()
    {
        var token = _shutdown.Token;
        try
        {
            while (true)
            {
                var line = await _lines.ReadLineAsync(token).ConfigureAwait(false);
                if (line is null)
                {
                    _peerClosed = true;
                    Abort(new EndOfStreamException("QMP connection closed by peer"));
                    return;
                }

                if (!IsBlank(line.Value.Span))
                {
                    Dispatch(line.Value);
                }
            }
        }
        catch (Exception) when (Volatile.Read(ref _abortReason) is not null)
        {
            // Already shutting down (cancellation or a disposed stream): nothing to report.
        }
        catch (QmpProtocolException ex)
        {
            Abort(ex);
        }
        catch (IOException ex)
        {
            _peerClosed = true;
            Abort(new IOException($"QMP connection lost: {ex.Message}", ex));
        }
        catch (Exception ex)
        {
            Abort(ex);
        }
    }

    private async Task WriteLoopAsync()
    {
        var token = _shutdown.Token;
        QmpPendingCommand? current = null;
        try
        {
            while (await _commands.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (_commands.Reader.TryRead(out current))
                {
                    if (!current.TryMarkSent())
                    {
                        continue; // its caller gave up while it was queued
                    }

                    _pending[current.Id] = current;
                    Volatile.Write(ref _inFlight, current);
                    if (current.IsQuit)
                    {
                        _quitSent = true;
                    }

                    if (Volatile.Read(ref _abortReason) is { } reason)
                    {
                        // Aborted between dequeue and registration: Abort may have missed this entry.
                        _pending.TryRemove(current.Id, out _);
                        Fail(current, reason);
                        return;
                    }

                    await _stream.WriteAsync(current.Payload, token).ConfigureAwait(false);
                    await _stream.FlushAsync(token).ConfigureAwait(false);

                    // One command at a time: wait for this reply (or the abort) before sending the next.
                    await ((Task)current.Reply.Task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (Exception) when (Volatile.Read(ref _abortReason) is not null)
        {
            // Already shutting down.
        }
        catch (IOException ex)
        {
            _peerClosed = true; // EPIPE / ECONNRESET: QEMU is gone
            Abort(new IOException($"QMP connection lost while sending '{current?.Command}': {ex.Message}", ex));
        }
        catch (Exception ex)
        {
            Abort(ex);
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> line)
    {
        using var doc = ParseObject(line);
        var root = doc.RootElement;
        if (root.TryGetProperty("event", out var name))
        {
            var data = line.Length <= MaxEventBytes && root.TryGetProperty("data", out var d) ? d.Clone() : default;
            string eventName = name.ValueKind == JsonValueKind.String ? name.GetString()! : name.GetRawText();
            if (eventName.Length > MaxEventNameLength)
            {
                eventName = eventName[..MaxEventNameLength];
            }

            _events.Writer.TryWrite(new QmpEvent(eventName, data));
            return;
        }

        bool isReturn = root.TryGetProperty("return", out var result);
        JsonElement error = default;
        if (!isReturn && !root.TryGetProperty("error", out error))
        {
            return; // e.g. a repeated greeting: nothing to match
        }

        var command = TakeCommand(root);
        if (command is null)
        {
            return; // reply to an id we do not know: discard
        }

        if (isReturn)
        {
            command.Reply.TrySetResult(result.Clone());
        }
        else
        {
            command.Reply.TrySetException(ToQmpException(command.Command, error));
        }
    }

    /// <summary>Finds the command a reply belongs to: by "id", or (QEMU omits it when it could not parse the request) the in-flight one.</summary>
    private QmpPendingCommand? TakeCommand(JsonElement reply)
    {
        if (reply.TryGetProperty("id", out var idElement))
        {
            return idElement.ValueKind == JsonValueKind.Number
                && idElement.TryGetInt64(out long id)
                && _pending.TryRemove(id, out var byId) ? byId : null;
        }

        var inFlight = Volatile.Read(ref _inFlight);
        return inFlight is not null && _pending.TryRemove(inFlight.Id, out var current) ? current : null;
    }

    private void Fail(QmpPendingCommand command, Exception reason)
    {
        if (command.IsQuit && command.WasSent && _peerClosed)
        {
            command.Reply.TrySetResult(default);
        }
        else
        {
            command.Reply.TrySetException(CommandFailure(command.Command, reason));
        }
    }

    private Exception CommandFailure(string command, Exception reason) =>
        _disposing
            ? new ObjectDisposedException(nameof(QmpClient), $"QMP command '{command}' failed: the client was disposed.")
            : new IOException($"QMP command '{command}' failed: {reason.Message}", reason);

    private static QmpException ToQmpException(string command, JsonElement error)
    {
        string errorClass = "GenericError";
        string description = error.GetRawText();
        if (error.ValueKind == JsonValueKind.Object)
        {
            if (error.TryGetProperty("class", out var c) && c.ValueKind == JsonValueKind.String)
            {
                errorClass = c.GetString()!;
            }

            if (error.TryGetProperty("desc", out var desc) && desc.ValueKind == JsonValueKind.String)
            {
                description = desc.GetString()!;
            }
        }

        return new QmpException(command, errorClass, description);
    }

    private static byte[] Serialize(long id, string command, JsonObject? arguments)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments");
                arguments.WriteTo(writer);
            }

            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static JsonDocument ParseObject(ReadOnlyMemory<byte> line)
    {
        // JsonDocument checks a string's UTF-8 only when it is read (GetString throws InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(line.Span))
        {
            throw new QmpProtocolException($"QMP: received a line that is not valid UTF-8: {Preview(line.Span)}");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new QmpProtocolException($"QMP: received a line that is not valid JSON ({ex.Message}): {Preview(line.Span)}", ex);
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new QmpProtocolException($"QMP: expected a JSON object, got: {Preview(line.Span)}");
        }

        return doc;
    }

    private static string ParseVersion(JsonElement qmp)
    {
        if (qmp.TryGetProperty("version", out var version)
            && version.ValueKind == JsonValueKind.Object
            && version.TryGetProperty("qemu", out var qemu)
            && qemu.ValueKind == JsonValueKind.Object)
        {
            return $"{Part(qemu, "major")}.{Part(qemu, "minor")}.{Part(qemu, "micro")}";
        }

        return string.Empty;

        static long Part(JsonElement v, string name) =>
            v.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out long n) ? n : 0;
    }

    private static string[] ParseCapabilities(JsonElement qmp)
    {
        if (!qmp.TryGetProperty("capabilities", out var caps) || caps.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return caps.EnumerateArray()
            .Where(c => c.ValueKind == JsonValueKind.String)
            .Select(c => c.GetString()!)
            .ToArray();
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r"u8).IsEmpty;

    private static string Preview(ReadOnlySpan<byte> line)
    {
        string text = Encoding.UTF8.GetString(line[..Math.Min(line.Length, PreviewBytes)]);
        return line.Length > PreviewBytes ? $"'{text}...' ({line.Length} bytes)" : $"'{text}'";
    }
}
