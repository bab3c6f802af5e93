namespace Moat.Oci.Tests;

public class ContainerIdTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("abc123")]
    [InlineData("my_container-1.2+3")]
    [InlineData("...")]
    [InlineData(".hidden")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Valid_ids_pass(string id)
    {
        ContainerId.Validate(id);
        Assert.True(ContainerId.IsValid(id));
    }

    [Fact]
    public void Exactly_128_characters_is_allowed()
    {
        ContainerId.Validate(new string('a', 128));
    }

    [Fact]
    public void Empty_is_rejected()
    {
        var ex = Assert.Throws<OciException>(() => ContainerId.Validate(""));
        Assert.Equal("invalid container id \"\": must not be empty", ex.Message);
    }

    [Fact]
    public void Path_traversal_is_rejected()
    {
        var ex = Assert.Throws<OciException>(() => ContainerId.Validate("../x"));
        Assert.Equal("invalid container id \"../x\": only letters, digits, '_', '+', '-' and '.' are allowed", ex.Message);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a\nb")]
    [InlineData("é")]
    [InlineData("a:b")]
    public void Bad_characters_are_rejected(string id)
    {
        var ex = Assert.Throws<OciException>(() => ContainerId.Validate(id));
        Assert.Contains("only letters, digits", ex.Message, StringComparison.Ordinal);
        SchemaExampleTests.AssertOneLine(ex.Message);
        Assert.False(ContainerId.IsValid(id));
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public void Dot_and_dotdot_are_rejected(string id)
    {
        var ex = Assert.Throws<OciException>(() => ContainerId.Validate(id));
        Assert.Contains("must not be \".\" or \"..\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_long_is_rejected()
    {
        var ex = Assert.Throws<OciException>(() => ContainerId.Validate(new string('a', 129)));
        Assert.EndsWith("must be at most 128 characters long, got 129", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Length < 140, ex.Message);
    }
}
