using Google.Protobuf;

namespace Moat.Ttrpc;

/// <summary>A registered unary handler, type-erased to payload bytes in and out.</summary>
internal delegate Task<ByteString> UnaryMethod(ByteString payload, TtrpcCallContext context);
