using Moat.Oci.Internal;

namespace Moat.Oci;

/// <summary>Container id rules, identical to runc's: <c>^[\w+\-.]+$</c> (ASCII), not "." or "..", at most 128 characters.</summary>
public static class ContainerId
{
    public const int MaxLength = 128;

    /// <summary>Throws <see cref="OciException"/> if <paramref name="id"/> is not a valid container id.</summary>
    public static void Validate(string id)
    {
        var problem = GetProblem(id);
        if (problem is not null)
        {
            throw new OciException($"invalid container id {Text.Quote(id, 40)}: {problem}");
        }
    }

    public static bool IsValid(string? id) => id is not null && GetProblem(id) is null;

    private static string? GetProblem(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "must not be empty";
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '+' or '-' or '.'))
            {
                return "only letters, digits, '_', '+', '-' and '.' are allowed";
            }
        }

        if (id is "." or "..")
        {
            return "must not be \".\" or \"..\"";
        }

        if (id.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters long, got {id.Length}";
        }

        return null;
    }
}
