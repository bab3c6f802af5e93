namespace Moat.Ttrpc;

/// <summary>One received frame: its header and its data (exactly <c>Header.Length</c> bytes).</summary>
internal readonly record struct Frame(FrameHeader Header, byte[] Data);
