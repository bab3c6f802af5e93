namespace Moat.Ttrpc;

/// <summary>Frame message types (header byte 8).</summary>
internal enum MessageType : byte
{
    Request = 0x01,
    Response = 0x02,
    Data = 0x03,
}
