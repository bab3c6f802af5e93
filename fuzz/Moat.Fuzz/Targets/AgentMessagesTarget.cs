using Google.Protobuf;
using Moat.Protocols.Agent;
using TtrpcProtocol = Moat.Ttrpc.Protocol;

namespace Moat.Fuzz.Targets;

/// <summary>
/// The protobuf messages of the agent channel without the framing: the first input byte picks a
/// message (<see cref="Messages"/>, modulo their count), the rest is its encoding. Replies the host
/// reads go on to the host code that consumes them (<see cref="AgentReplies"/>); requests are what
/// the agent's binding parses. The only rejection is <see cref="InvalidProtocolBufferException"/>.
/// </summary>
internal sealed class AgentMessagesTarget : FuzzTarget
{
    /// <summary>Each message by its selector byte (the index here).</summary>
    public static readonly (string Name, Action<ReadOnlyMemory<byte>> Parse)[] Messages =
    [
        // Replies from the guest: the hostile direction.
        ("CheckResponse", b => AgentReplies.Consume(CheckResponse.Parser.ParseFrom(b.Span))),
        ("GuestDetailsResponse", b => AgentReplies.Consume(GuestDetailsResponse.Parser.ParseFrom(b.Span))),
        ("StartContainerResponse", b => AgentReplies.Consume(StartContainerResponse.Parser.ParseFrom(b.Span))),
        ("ExecProcessResponse", b => AgentReplies.Consume(ExecProcessResponse.Parser.ParseFrom(b.Span))),
        ("WaitProcessResponse", b => AgentReplies.Consume(WaitProcessResponse.Parser.ParseFrom(b.Span))),
        ("ReadStreamResponse", b => AgentReplies.Consume(ReadStreamResponse.Parser.ParseFrom(b.Span))),
        ("WriteStreamResponse", b => AgentReplies.Consume(WriteStreamResponse.Parser.ParseFrom(b.Span))),
        ("StatsContainerResponse", b => AgentReplies.Consume(StatsContainerResponse.Parser.ParseFrom(b.Span))),
        ("OOMEvent", b => AgentReplies.Consume(OOMEvent.Parser.ParseFrom(b.Span))),
        ("OnlineCpusResponse", b => AgentReplies.Consume(OnlineCpusResponse.Parser.ParseFrom(b.Span))),
        ("Empty", b => Empty.Parser.ParseFrom(b.Span)),
        ("ttrpc.Response", b => TtrpcProtocol.Response.Parser.ParseFrom(b.Span)),
        // Requests, as the agent's service binding parses them.
        ("ttrpc.Request", b => TtrpcProtocol.Request.Parser.ParseFrom(b.Span)),
        ("CreateSandboxRequest", b => CreateSandboxRequest.Parser.ParseFrom(b.Span)),
        ("CreateContainerRequest", b => CreateContainerRequest.Parser.ParseFrom(b.Span)),
        ("ExecProcessRequest", b => ExecProcessRequest.Parser.ParseFrom(b.Span)),
        ("SignalProcessRequest", b => SignalProcessRequest.Parser.ParseFrom(b.Span)),
        ("WriteStreamRequest", b => WriteStreamRequest.Parser.ParseFrom(b.Span)),
        ("ReadStreamRequest", b => ReadStreamRequest.Parser.ParseFrom(b.Span)),
        ("TtyWinResizeRequest", b => TtyWinResizeRequest.Parser.ParseFrom(b.Span)),
        ("ConfigureNetworkRequest", b => ConfigureNetworkRequest.Parser.ParseFrom(b.Span)),
        ("UpdateContainerRequest", b => UpdateContainerRequest.Parser.ParseFrom(b.Span)),
        ("RemoveContainerRequest", b => RemoveContainerRequest.Parser.ParseFrom(b.Span)),
        ("OnlineCpusRequest", b => OnlineCpusRequest.Parser.ParseFrom(b.Span)),
        // Appended, never inserted: a seed's selector byte keeps naming the same message.
        ("GuestMetricsResponse", b => AgentReplies.Consume(GuestMetricsResponse.Parser.ParseFrom(b.Span))),
    ];

    public override string Name => "agent-messages";

    public override string Description =>
        "selector byte + protobuf -> agent.proto and ttrpc message parsers, then the host consumers of agent replies; InvalidProtocolBufferException";

    protected override void Execute(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        Messages[input[0] % Messages.Length].Parse(input.AsMemory(1));
    }

    protected override bool IsRejection(Exception e) => e is InvalidProtocolBufferException;
}
