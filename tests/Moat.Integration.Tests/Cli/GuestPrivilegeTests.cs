using System.Text.Json.Nodes;
using static Moat.Integration.Tests.GuestPrivileges;

namespace Moat.Integration.Tests.Cli;

/// <summary>
/// The container's own privileges in the guest through the runc-compatible CLI (issue 14, item 8):
/// capabilities it is not given are gone from all five sets, and linux.seccomp is a real filter,
/// loaded where runc loads it.
/// </summary>
[Collection("vm")]
public sealed class GuestPrivilegeTests
{
    private static string Id() => "priv-" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task EmptyCapabilitiesObjectAsContainerdWritesForDropAllLeavesEverySetEmpty()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", StatusScript], cfg => cfg["process"]!["capabilities"] = new JsonObject());
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        AssertNoCapabilities(r.Stdout);
    }

    [Fact]
    public async Task WithoutACapabilitiesObjectNeitherInitNorExecHoldsAny()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sleep", "300"], cfg => cfg["process"]!.AsObject().Remove("capabilities"));
        var id = Id();
        var r = await env.MoatAsync("run", "--detach", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            // runc's exec: the container's own process object (no capabilities in it either) with the command applied.
            r = await env.MoatAsync("exec", id, "sh", "-c", InitAndSelfScript);
            Assert.True(r.ExitCode == 0, r.ToString());
            var (init, self) = SplitInitAndSelf(r.Stdout);
            AssertNoCapabilities(init);
            AssertNoCapabilities(self);
        }
        finally
        {
            await env.MoatAsync("delete", "--force", id);
        }
    }

    [Fact]
    public async Task SeccompProfileBlocksSethostnameInInitAndExec()
    {
        await using var env = new CliEnv();
        var bundle = await env.BundleAsync("b", ["sleep", "300"], cfg =>
        {
            GrantSysAdmin(cfg);
            cfg["linux"]!["seccomp"] = BlockSethostname();
        });
        var id = Id();
        var r = await env.MoatAsync("run", "--detach", "--bundle", bundle, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            r = await env.MoatAsync("exec", id, "sh", "-c", InitAndSelfScript + "; " + HostnameScript);
            Assert.True(r.ExitCode == 0, r.ToString());
            var (init, self) = SplitInitAndSelf(r.Stdout);
            Assert.Equal("2", Parse(init)["Seccomp"]);
            AssertSethostnameBlocked(self);
        }
        finally
        {
            await env.MoatAsync("delete", "--force", id);
        }
    }

    /// <summary>
    /// runc's order without no_new_privileges: the filter is loaded while the helper still has
    /// CAP_SYS_ADMIN. Loaded after the drop to uid 65534 with no capability, the kernel would refuse it (EACCES).
    /// </summary>
    [Fact]
    public async Task WithoutNoNewPrivilegesTheFilterIsLoadedBeforeTheCapabilitiesAreDropped()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", StatusScript], cfg =>
        {
            var p = cfg["process"]!.AsObject();
            p["noNewPrivileges"] = false;
            p["user"] = new JsonObject { ["uid"] = 65534, ["gid"] = 65534 };
            p["capabilities"] = new JsonObject();
            cfg["linux"]!["seccomp"] = BlockSethostname();
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        var status = Parse(r.Stdout);
        Assert.Equal("2", status["Seccomp"]);
        Assert.Equal("0", status["NoNewPrivs"]);
        AssertNoCapabilities(r.Stdout);
    }

    /// <summary>
    /// runc's order with no_new_privileges: the filter comes right before execve, after the
    /// helper's own setgroups/setres[ug]id/capset/prctl, so a profile may forbid those to the workload.
    /// </summary>
    [Fact]
    public async Task WithNoNewPrivilegesTheFilterIsLoadedAfterTheHelpersOwnCalls()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["sh", "-c", StatusAndHostnameScript], cfg =>
        {
            GrantSysAdmin(cfg);
            var profile = BlockSethostname();
            profile["syscalls"]!.AsArray().Add(new JsonObject
            {
                ["names"] = new JsonArray("setgroups", "setresuid", "setresgid", "capset", "prctl", "chdir", "umask"),
                ["action"] = "SCMP_ACT_ERRNO",
                ["errnoRet"] = 13,
            });
            cfg["linux"]!["seccomp"] = profile;
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("1", Parse(r.Stdout)["NoNewPrivs"]);
        AssertSethostnameBlocked(r.Stdout);
    }

    [Fact]
    public async Task SeccompNotifyIsRefusedWithOneLineNamingTheField()
    {
        await using var env = new MoatEnv();
        var bundle = await env.BundleAsync("b", ["true"], cfg => cfg["linux"]!["seccomp"] = new JsonObject
        {
            ["defaultAction"] = "SCMP_ACT_ALLOW",
            ["syscalls"] = new JsonArray(new JsonObject { ["names"] = new JsonArray("mount"), ["action"] = "SCMP_ACT_NOTIFY" }),
        });
        var r = await env.RunAsync(bundle, MoatEnv.Id());
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    /// <summary>CAP_SYS_ADMIN in the bounding, effective and permitted sets: sethostname in the container's UTS namespace then works unless filtered.</summary>
    private static void GrantSysAdmin(JsonObject cfg)
    {
        var caps = cfg["process"]!["capabilities"]!.AsObject();
        foreach (var set in new[] { "bounding", "effective", "permitted" })
        {
            caps[set]!.AsArray().Add("CAP_SYS_ADMIN");
        }
    }
}
