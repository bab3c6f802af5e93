using Moat.Ttrpc;

namespace Moat.Agent;

internal static class AgentException
{
    public static TtrpcException New(StatusCode code, string message) => new(code, message);
}
