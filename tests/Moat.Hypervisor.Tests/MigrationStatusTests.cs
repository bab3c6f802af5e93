using System.Text.Json;

namespace Moat.Hypervisor.Tests;

public sealed class MigrationStatusTests
{
    [Fact]
    public void Read_QemuAnswers()
    {
        Assert.Equal(("completed", null), MigrationStatus.Read(Parse("""{"status": "completed", "setup-time": 15, "ram": {"total": 67641344}}""")));
        Assert.Equal(("failed", "Unable to write to command: Broken pipe"), MigrationStatus.Read(Parse("""{"status": "failed", "error-desc": "Unable to write to command: Broken pipe"}""")));
        Assert.Equal((null, null), MigrationStatus.Read(Parse("{}")));
    }

    // Found by fuzzing (fuzz/corpus/qmp/crash-migrate-*): TryGetProperty on a non-object and GetString on
    // a non-string threw InvalidOperationException out of the template save and restore.
    [Theory]
    [InlineData("5")]
    [InlineData("[]")]
    [InlineData("null")]
    public void Read_NotAnObject_ThrowsProtocolError(string answer)
    {
        Assert.Throws<QmpProtocolException>(() => MigrationStatus.Read(Parse(answer)));
    }

    [Fact]
    public void Read_FieldsOfAnotherType_AreAbsent()
    {
        Assert.Equal((null, null), MigrationStatus.Read(Parse("""{"status": 5, "error-desc": {"x": 1}}""")));
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
