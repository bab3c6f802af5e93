using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;

namespace Moat.Ttrpc.Tests;

/// <summary>A server with the test "echo" service plus hooks the tests can observe.</summary>
internal sealed class TestServer
{
    public const string Service = "moat.test.Echo";

    public TestServer()
    {
        Server = new TtrpcServer(Logs.Enqueue);
        Server.AddUnary<StringValue, StringValue>(Service, "Echo", StringValue.Parser,
            (request, _) => Task.FromResult(new StringValue { Value = request.Value }));
        Server.AddUnary<StringValue, StringValue>(Service, "Metadata", StringValue.Parser,
            (request, context) => Task.FromResult(new StringValue
            {
                Value = context.Metadata.TryGetValue(request.Value, out var value) ? value : "<missing>",
            }));
        Server.AddUnary<StringValue, StringValue>(Service, "NotFound", StringValue.Parser,
            (request, _) => throw new TtrpcException(StatusCode.NotFound, $"no such thing: {request.Value}"));
        Server.AddUnary<StringValue, StringValue>(Service, "Crash", StringValue.Parser,
            (_, _) => throw new InvalidOperationException("boom"));
        Server.AddUnary<StringValue, StringValue>(Service, "Block", StringValue.Parser, async (request, context) =>
        {
            BlockStarted.TrySetResult(context);
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                BlockCancelled.TrySetResult();
                throw;
            }

            return request;
        });
        Server.AddUnary<StringValue, StringValue>(Service, "Gate", StringValue.Parser, async (request, _) =>
        {
            GateEntered.TrySetResult();
            await Gate.Task;
            Interlocked.Increment(ref _gateCompleted);
            return request;
        });
    }

    private int _gateCompleted;

    public TtrpcServer Server { get; }

    public ConcurrentQueue<string> Logs { get; } = new();

    public TaskCompletionSource<TtrpcCallContext> BlockStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource BlockCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource GateEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int GateCompleted => Volatile.Read(ref _gateCompleted);

    public string AllLogs => string.Join("\n", Logs);
}
