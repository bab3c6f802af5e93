using Moat.Cli.Runc;
using Moat.Runtime;

namespace Moat.Cli.Tests;

/// <summary>The CLI's state under --root: claims, records and what it makes of a bad one. Temp directories only, no root.</summary>
[Collection("console")]
public sealed class CliStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("moat-clistore-").FullName;

    private static CliRecord Record(string id) =>
        new(id, "/b", "/b/rootfs", DateTime.UtcNow, 42, "/run/moat-node/shim/x.sock", "moat-cli-1", 0, null);

    [Fact]
    public void AnIdIsClaimedOnceAndFreedByItsClaimer()
    {
        CliStore.Reserve(_root, "c1");
        Assert.Equal(ProcessIdentity.Self, ProcessIdentity.Read(Path.Combine(_root, "c1", StateDir.ReservationFile)));
        var e = Assert.Throws<RuntimeException>(() => CliStore.Reserve(_root, "c1"));
        Assert.Equal(RuntimeErrorKind.AlreadyExists, e.Kind);
        Assert.Contains("being created or run now", e.Message);
        CliStore.Release(_root, "c1");
        Assert.False(Directory.Exists(Path.Combine(_root, "c1")));
        CliStore.Reserve(_root, "c1"); // free again
    }

    [Fact]
    public void AClaimWhoseProcessIsGoneIsTakenOver()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "c1")).FullName;
        File.WriteAllText(Path.Combine(dir, StateDir.ReservationFile), "999999999 1"); // no such process
        CliStore.Reserve(_root, "c1");
        Assert.Equal(ProcessIdentity.Self, ProcessIdentity.Read(Path.Combine(dir, StateDir.ReservationFile)));
    }

    [Fact]
    public void AnotherContainersRecordIsNeverTakenOverNorReleased()
    {
        Directory.CreateDirectory(Path.Combine(_root, "c1"));
        CliStore.Write(_root, Record("c1"));
        var e = Assert.Throws<RuntimeException>(() => CliStore.Reserve(_root, "c1"));
        Assert.Contains("already exists: delete it first", e.Message);
        CliStore.Release(_root, "c1"); // not this process's claim: nothing happens
        Assert.Equal(Record("c1") with { Created = default }, CliStore.Read(_root, "c1") with { Created = default });
    }

    [Fact]
    public void AMissingRecordIsNotFoundAndABadOneIsCorruptNamingTheFix()
    {
        Assert.Equal(RuntimeErrorKind.NotFound, Assert.Throws<RuntimeException>(() => CliStore.Read(_root, "nope")).Kind);
        foreach (var (id, json) in new[] { ("empty", "{}"), ("partial", "{\"Id\":\"partial\"}"), ("garbage", "{"), ("other", System.Text.Json.JsonSerializer.Serialize(Record("c9"), CliJson.Default.CliRecord)) })
        {
            Directory.CreateDirectory(Path.Combine(_root, id));
            File.WriteAllText(Path.Combine(_root, id, "state.json"), json);
            var e = Assert.Throws<CorruptRecordException>(() => CliStore.Read(_root, id));
            Assert.Contains($"moat delete --force {id}", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void ListingSkipsBadRecordsWithAWarningAndKeepsTheRest()
    {
        Directory.CreateDirectory(Path.Combine(_root, "good"));
        CliStore.Write(_root, Record("good"));
        Directory.CreateDirectory(Path.Combine(_root, "bad"));
        File.WriteAllText(Path.Combine(_root, "bad", "state.json"), "{}");
        Directory.CreateDirectory(Path.Combine(_root, "claimed")); // a create under way: no record yet, no warning
        var stderr = new StringWriter();
        var saved = Console.Error;
        Console.SetError(stderr);
        try
        {
            Assert.Equal(["good"], CliStore.All(_root).Select(r => r.Id));
        }
        finally
        {
            Console.SetError(saved);
        }
        var warnings = stderr.ToString().Trim().Split('\n');
        Assert.Single(warnings);
        Assert.StartsWith("moat: warning: skipping ", warnings[0]);
        Assert.Contains("bad", warnings[0]);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
