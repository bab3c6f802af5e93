using Google.Protobuf.WellKnownTypes;

namespace Moat.Ttrpc.Tests;

internal static class Extensions
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    public static async Task<string> EchoAsync(
        this TtrpcClient client,
        string method,
        string text,
        CallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var response = await client.CallAsync(
            TestServer.Service, method, new StringValue { Value = text }, StringValue.Parser, options, cancellationToken)
            .WaitAsync(Limit, CancellationToken.None);
        return response.Value;
    }
}
