namespace Moat.Ttrpc;

/// <summary>Frame flag bits (header byte 9); meaning depends on the message type.</summary>
[Flags]
internal enum FrameFlags : byte
{
    None = 0,
    RemoteClosed = 0x01,
    RemoteOpen = 0x02,
    NoData = 0x04,
}
