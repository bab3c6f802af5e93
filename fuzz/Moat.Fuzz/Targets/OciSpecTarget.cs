using System.Text;
using Moat.Oci;
using Moat.Runtime;

namespace Moat.Fuzz.Targets;

/// <summary>
/// A bundle's config.json as a local user can plant it: the input is the file's bytes.
/// <see cref="SpecLoader"/> parses, <see cref="SpecValidator"/> judges (and must never throw), and a
/// spec that passes goes on to the host code that reads it before the VM starts (VM sizing, the
/// share plan). Rejections: <see cref="OciException"/> from the loader, <see cref="RuntimeException"/>
/// from the host code.
/// </summary>
internal sealed class OciSpecTarget : FuzzTarget
{
    private static readonly Lazy<string> Bundle = new(CreateBundle);

    public override string Name => "oci-spec";

    public override string Description =>
        "config.json bytes -> SpecLoader.Deserialize/Parse, SpecValidator.Validate, VM sizing and SharePlan; OciException, RuntimeException";

    protected override void Execute(byte[] input)
    {
        var json = Encoding.UTF8.GetString(input);
        var spec = SpecLoader.Deserialize(json);
        var result = SpecValidator.Validate(spec);
        _ = result.IsRunnable;
        foreach (var issue in result.Errors.Concat(result.Unsupported).Concat(result.Warnings))
        {
            _ = issue.ToString();
        }

        spec = SpecLoader.Parse(json);
        _ = ContainerLimits.Of(spec);
        var (guestSpec, binds) = SharePlan.ForContainer("fuzz", Bundle.Value, spec);
        _ = SpecValidator.Validate(guestSpec);
        _ = binds.Count;
    }

    protected override bool IsRejection(Exception e) => e is OciException or RuntimeException;

    /// <summary>A bundle directory with a rootfs, so the share plan gets past its existence checks.</summary>
    private static string CreateBundle()
    {
        var dir = Directory.CreateTempSubdirectory("moat-fuzz-bundle-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "rootfs"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return dir;
    }
}
