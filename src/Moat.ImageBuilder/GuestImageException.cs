namespace Moat.ImageBuilder;

/// <summary>A guest image could not be built or loaded; the message says why and what to do.</summary>
public sealed class GuestImageException : Exception
{
    public GuestImageException()
    {
    }

    public GuestImageException(string message)
        : base(message)
    {
    }

    public GuestImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
