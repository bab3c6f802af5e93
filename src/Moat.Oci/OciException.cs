namespace Moat.Oci;

/// <summary>Base class for errors raised by the OCI layer (bad ids, bad bundles, bad configs).</summary>
public class OciException : Exception
{
    public OciException()
    {
    }

    public OciException(string message)
        : base(message)
    {
    }

    public OciException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A config.json (or bundle) could not be loaded or is invalid. <see cref="Exception.Message"/> is always a single
/// line of the form <c>file: field.path: problem</c>.
/// </summary>
public sealed class OciConfigException : OciException
{
    public OciConfigException()
        : this("invalid OCI configuration")
    {
    }

    public OciConfigException(string message)
        : this(message, null)
    {
    }

    public OciConfigException(string message, Exception? innerException)
        : base(message, innerException)
    {
        FileName = "";
        Issues = [];
    }

    internal OciConfigException(string message, string fileName, string? fieldPath, IReadOnlyList<ValidationIssue> issues, Exception? innerException = null)
        : base(message, innerException)
    {
        FileName = fileName;
        FieldPath = fieldPath;
        Issues = issues;
    }

    /// <summary>The file (or bundle) the problem was found in, as named in the message.</summary>
    public string FileName { get; }

    /// <summary>Path of the offending field (e.g. <c>linux.namespaces[2].type</c>), if the problem is tied to one.</summary>
    public string? FieldPath { get; }

    /// <summary>All validation issues that caused this exception (empty for load/JSON errors).</summary>
    public IReadOnlyList<ValidationIssue> Issues { get; }
}
