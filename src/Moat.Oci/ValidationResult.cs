namespace Moat.Oci;

/// <summary>One finding of <see cref="SpecValidator"/>, tied to a field path such as <c>linux.namespaces[2].type</c>.</summary>
public sealed record ValidationIssue(string Path, string Message)
{
    /// <summary><c>path: message</c> (or just the message when the issue concerns the whole document).</summary>
    public override string ToString() => Path.Length == 0 ? Message : Path + ": " + Message;
}

/// <summary>Outcome of <see cref="SpecValidator.Validate"/>.</summary>
public sealed class ValidationResult
{
    public ValidationResult(IEnumerable<ValidationIssue> errors, IEnumerable<ValidationIssue> unsupported, IEnumerable<ValidationIssue> warnings)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(unsupported);
        ArgumentNullException.ThrowIfNull(warnings);
        Errors = [.. errors];
        Unsupported = [.. unsupported];
        Warnings = [.. warnings];
    }

    /// <summary>Things the runtime-spec (or its JSON schema) forbids.</summary>
    public IReadOnlyList<ValidationIssue> Errors { get; }

    /// <summary>Valid per spec, but Moat (one VM per container) cannot honour them and must refuse the container.</summary>
    public IReadOnlyList<ValidationIssue> Unsupported { get; }

    /// <summary>Accepted, but not enforced the way a namespace-based runtime would; worth logging.</summary>
    public IReadOnlyList<ValidationIssue> Warnings { get; }

    /// <summary>No <see cref="Errors"/>.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>No <see cref="Errors"/> and nothing <see cref="Unsupported"/>: Moat can run this config.</summary>
    public bool IsRunnable => Errors.Count == 0 && Unsupported.Count == 0;
}
