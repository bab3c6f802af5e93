using Google.Protobuf;

namespace Moat.Ttrpc;

/// <summary>
/// A registered unary handler, type-erased: payload bytes in, the response message out (encoded
/// straight into its frame, with no payload copy in between).
/// </summary>
internal delegate Task<IMessage> UnaryMethod(ByteString payload, TtrpcCallContext context);
