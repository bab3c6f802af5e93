namespace Moat.Runtime.Tests;

public sealed class MoatConfigTests
{
    // Found by fuzzing (fuzz/corpus/config-toml/crash-*): Tomlyn formats some syntax errors with an
    // invalid code point and throws ArgumentOutOfRangeException; it is a bad file like any other.
    [Theory]
    [InlineData("\"\\")]
    public void MalformedToml_IsARuntimeErrorNamingTheFile(string text)
    {
        var e = Assert.Throws<RuntimeException>(() => MoatConfig.Apply(new RuntimeOptions(), text, "/etc/moat/configuration.toml"));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.StartsWith("/etc/moat/configuration.toml: ", e.Message, StringComparison.Ordinal);
    }
}
