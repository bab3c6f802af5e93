using static Moat.Oci.Tests.TestConfig;

namespace Moat.Oci.Tests;

public class SpecValidatorTests
{
    [Theory]
    [InlineData("ociVersion", "<delete>", "ociVersion", "is required")]
    [InlineData("ociVersion", "\"1.0\"", "ociVersion", "must be a SemVer 2.0.0 version")]
    [InlineData("ociVersion", "\"v1.0.0\"", "ociVersion", "must be a SemVer 2.0.0 version")]
    [InlineData("ociVersion", "\"2.0.0\"", "ociVersion", "unsupported version \"2.0.0\"")]
    [InlineData("root", "<delete>", "root", "is required")]
    [InlineData("root.path", "\"\"", "root.path", "is required")]
    [InlineData("mounts", "[{\"destination\": \"tmp\"}]", "mounts[0].destination", "must be an absolute path, got \"tmp\"")]
    [InlineData("mounts", "[{\"type\": \"tmpfs\"}]", "mounts[0].destination", "is required")]
    [InlineData("process.args", "<delete>", "process.args", "must contain at least one element")]
    [InlineData("process.args", "[\"\"]", "process.args[0]", "must not be empty")]
    [InlineData("process.cwd", "\"tmp\"", "process.cwd", "must be an absolute path, got \"tmp\"")]
    [InlineData("process.env", "[\"PATH=/bin\", \"NOVALUE\"]", "process.env[1]", "must be in KEY=VALUE form, got \"NOVALUE\"")]
    [InlineData("process.env", "[\"=x\"]", "process.env[0]", "must be in KEY=VALUE form")]
    [InlineData("process.rlimits", "[{\"type\": \"NOFILE\", \"soft\": 1, \"hard\": 1}]", "process.rlimits[0].type", "invalid rlimit type \"NOFILE\"")]
    [InlineData("process.rlimits", "[{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]", "process.rlimits[0].type", "unknown rlimit type")]
    [InlineData("process.rlimits", "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 2048, \"hard\": 1024}]", "process.rlimits[0].soft", "soft limit 2048 exceeds hard limit 1024")]
    [InlineData("process.rlimits", "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1}, {\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1}]", "process.rlimits[1].type", "duplicate rlimit type")]
    [InlineData("process.capabilities", "{\"bounding\": [\"CAP_KILL\", \"NET_ADMIN\"]}", "process.capabilities.bounding[1]", "invalid capability \"NET_ADMIN\"")]
    [InlineData("process.capabilities", "{\"ambient\": [\"cap_kill\"]}", "process.capabilities.ambient[0]", "invalid capability")]
    [InlineData("process.oomScoreAdj", "1001", "process.oomScoreAdj", "must be between -1000 and 1000")]
    [InlineData("hooks.prestart", "[{\"path\": \"bin/hook\"}]", "hooks.prestart[0].path", "must be an absolute path")]
    [InlineData("hooks.poststop", "[{\"path\": \"/bin/hook\", \"timeout\": 0}]", "hooks.poststop[0].timeout", "must be greater than zero, got 0")]
    [InlineData("hooks.createRuntime", "[{\"args\": [\"x\"]}]", "hooks.createRuntime[0].path", "is required")]
    [InlineData("annotations", "{\"\": \"x\"}", "annotations", "keys must not be empty")]
    [InlineData("linux.namespaces.2.type", "\"foo\"", "linux.namespaces[2].type", "unknown namespace type \"foo\"")]
    [InlineData("linux.namespaces.2.type", "\"pid\"", "linux.namespaces[2].type", "duplicate namespace type \"pid\"")]
    [InlineData("linux.namespaces.2", "{\"path\": \"/proc/1/ns/ipc\"}", "linux.namespaces[2].type", "is required")]
    [InlineData("linux.namespaces.1", "{\"type\": \"network\", \"path\": \"run/netns/x\"}", "linux.namespaces[1].path", "must be an absolute path")]
    [InlineData("linux.devices", "[{\"type\": \"x\", \"path\": \"/dev/x\"}]", "linux.devices[0].type", "invalid device type \"x\": must be one of c, b, u, p")]
    [InlineData("linux.devices", "[{\"type\": \"c\", \"path\": \"/dev/x\", \"minor\": 1}]", "linux.devices[0].major", "is required for device type \"c\"")]
    [InlineData("linux.devices", "[{\"type\": \"p\", \"path\": \"dev/fifo\"}]", "linux.devices[0].path", "must be an absolute path")]
    [InlineData("linux.devices", "[{\"type\": \"c\", \"path\": \"/dev/x\", \"major\": 1, \"minor\": 3, \"fileMode\": 70000}]", "linux.devices[0].fileMode", "no larger than 07777")]
    [InlineData("linux.resources.devices", "[{\"allow\": true, \"type\": \"x\"}]", "linux.resources.devices[0].type", "invalid device type")]
    [InlineData("linux.resources.devices", "[{\"allow\": true, \"access\": \"rwx\"}]", "linux.resources.devices[0].access", "must be a combination of r, w and m")]
    [InlineData("linux.resources.memory.limit", "-2", "linux.resources.memory.limit", "must be -1 (unlimited) or a non-negative number of bytes, got -2")]
    [InlineData("linux.resources.memory.swap", "-5", "linux.resources.memory.swap", "got -5")]
    [InlineData("linux.resources.memory.swappiness", "101", "linux.resources.memory.swappiness", "must be between 0 and 100")]
    [InlineData("linux.resources.cpu", "{\"quota\": -2}", "linux.resources.cpu.quota", "got -2")]
    [InlineData("linux.resources.cpu", "{\"quota\": 1000, \"burst\": 2000}", "linux.resources.cpu.burst", "must not exceed quota (1000), got 2000")]
    [InlineData("linux.resources.cpu", "{\"cpus\": \"0-3,a\"}", "linux.resources.cpu.cpus", "invalid list \"0-3,a\"")]
    [InlineData("linux.resources.cpu", "{\"idle\": 2}", "linux.resources.cpu.idle", "must be 0 or 1")]
    [InlineData("linux.resources.blockIO", "{\"weightDevice\": [{\"major\": 8, \"minor\": 0}]}", "linux.resources.blockIO.weightDevice[0]", "must specify weight or leafWeight")]
    [InlineData("linux.resources.hugepageLimits", "[{\"pageSize\": \"2mb\", \"limit\": 1}]", "linux.resources.hugepageLimits[0].pageSize", "invalid page size \"2mb\"")]
    [InlineData("linux.resources.network", "{\"priorities\": [{\"priority\": 1}]}", "linux.resources.network.priorities[0].name", "is required")]
    [InlineData("linux.resources.rdma", "{\"mlx5_1\": {}}", "linux.resources.rdma.mlx5_1", "must specify hcaHandles or hcaObjects")]
    [InlineData("linux.resources.unified", "{\"../memory.max\": \"1\"}", "linux.resources.unified[\"../memory.max\"]", "invalid cgroup file name")]
    [InlineData("linux.sysctl", "{\"\": \"1\"}", "linux.sysctl", "keys must not be empty")]
    [InlineData("linux.sysctl", "{\"net/../../init\": \"1\"}", "linux.sysctl[\"net/../../init\"]", "invalid sysctl name")]
    [InlineData("linux.sysctl", "{\"kernel..shmmax\": \"1\"}", "linux.sysctl[\"kernel..shmmax\"]", "invalid sysctl name")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_FOO\"}", "linux.seccomp.defaultAction", "unknown seccomp action \"SCMP_ACT_FOO\"")]
    [InlineData("linux.seccomp", "{\"architectures\": []}", "linux.seccomp.defaultAction", "is required")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}", "linux.seccomp.defaultErrnoRet", "is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}", "linux.seccomp.architectures[0]", "unknown seccomp architecture")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"FLAG\"]}", "linux.seccomp.flags[0]", "unknown seccomp flag")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerMetadata\": \"x\"}", "linux.seccomp.listenerMetadata", "must not be set without listenerPath")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}", "linux.seccomp.syscalls[0].names", "must contain at least one element")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"EQ\"}]}]}", "linux.seccomp.syscalls[0].args[0].op", "unknown seccomp operator \"EQ\"")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}", "linux.seccomp.syscalls[0].args[0].index", "must be between 0 and 5")]
    [InlineData("linux.rootfsPropagation", "\"sideways\"", "linux.rootfsPropagation", "unknown rootfs propagation \"sideways\"")]
    [InlineData("linux.maskedPaths", "[\"/proc/kcore\", \"proc/keys\"]", "linux.maskedPaths[1]", "must be an absolute path")]
    [InlineData("linux.readonlyPaths", "[\"sys\"]", "linux.readonlyPaths[0]", "must be an absolute path")]
    [InlineData("linux.personality", "{\"domain\": \"WINDOWS\"}", "linux.personality.domain", "unknown personality domain")]
    [InlineData("linux.intelRdt", "{\"memBwSchema\": \"L3:0=ff\"}", "linux.intelRdt.memBwSchema", "must start with \"MB:\"")]
    [InlineData("process.ioPriority", "{\"class\": \"IOPRIO_CLASS_FAST\"}", "process.ioPriority.class", "unknown I/O priority class")]
    [InlineData("process.scheduler", "{\"policy\": \"SCHED_FAST\"}", "process.scheduler.policy", "unknown scheduler policy")]
    public void Spec_violations_are_errors(string field, string raw, string expectedPath, string expectedMessage)
    {
        var result = Validate((field, raw));

        Assert.True(
            result.Errors.Any(e => e.Path == expectedPath && e.Message.Contains(expectedMessage, StringComparison.Ordinal)),
            "errors were: " + string.Join(" | ", result.Errors));
    }

    [Theory]
    [InlineData("linux.rootfsPropagation", "\"rslave\"")]
    [InlineData("linux.rootfsPropagation", "\"private\"")]
    [InlineData("linux.namespaces.1", "{\"type\": \"network\", \"path\": \"/var/run/netns/cni-1234\"}")]
    [InlineData("linux.namespaces.5", "{\"type\": \"cgroup\"}")]
    [InlineData("linux.personality", "{\"domain\": \"LINUX\"}")]
    [InlineData("linux.resources.cpu", "{\"quota\": -1, \"burst\": 5, \"cpus\": \"0-3,7\", \"mems\": \"0\"}")]
    [InlineData("linux.resources.memory", "{\"limit\": -1, \"swap\": -1, \"swappiness\": 100}")]
    [InlineData("linux.devices", "[{\"type\": \"p\", \"path\": \"/dev/fifo\"}, {\"type\": \"c\", \"path\": \"/dev/fuse\", \"major\": 10, \"minor\": 229, \"fileMode\": 438}]")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38}")]
    [InlineData("process.capabilities", "{\"bounding\": [\"CAP_CHECKPOINT_RESTORE\", \"CAP_BPF\"]}")]
    [InlineData("ociVersion", "\"1.0.2-dev\"")]
    [InlineData("ociVersion", "\"1.1.0+build.5\"")]
    [InlineData("mounts", "[{\"destination\": \"/data\", \"type\": \"none\", \"source\": \"/volumes/x\", \"options\": [\"rbind\", \"rw\"]}]")]
    [InlineData("hooks.poststart", "[{\"path\": \"/usr/bin/notify\", \"timeout\": 5, \"env\": [\"A=b\"]}]")]
    public void Valid_configs_have_no_errors(string field, string raw)
    {
        var result = Validate((field, raw));
        Assert.True(result.Errors.Count == 0, string.Join(" | ", result.Errors));
        Assert.True(result.Unsupported.Count == 0, string.Join(" | ", result.Unsupported));
    }

    [Theory]
    [InlineData("linux.namespaces.5", "{\"type\": \"user\"}", "linux.namespaces[5]", SpecValidator.UserNamespaceMessage)]
    [InlineData("linux.uidMappings", "[{\"containerID\": 0, \"hostID\": 1000, \"size\": 65536}]", "linux.uidMappings", SpecValidator.UserNamespaceMessage)]
    [InlineData("linux.gidMappings", "[{\"containerID\": 0, \"hostID\": 1000, \"size\": 65536}]", "linux.gidMappings", SpecValidator.UserNamespaceMessage)]
    [InlineData("linux.namespaces.0", "{\"type\": \"pid\", \"path\": \"/proc/1/ns/pid\"}", "linux.namespaces[0].path", "joining host namespace \"/proc/1/ns/pid\" (pid) is not possible from a VM")]
    [InlineData("linux.namespaces.4", "{\"type\": \"mount\", \"path\": \"/proc/1/ns/mnt\"}", "linux.namespaces[4].path", "joining host namespace")]
    [InlineData("linux.namespaces.5", "{\"type\": \"time\"}", "linux.namespaces[5]", "time namespaces are not supported")]
    [InlineData("linux.timeOffsets", "{\"monotonic\": {\"secs\": 10}}", "linux.timeOffsets", "time namespaces are not supported")]
    [InlineData("linux.intelRdt", "{\"closID\": \"guaranteed_group\"}", "linux.intelRdt", "Intel RDT is not supported")]
    [InlineData("process.ioPriority", "{\"class\": \"IOPRIO_CLASS_IDLE\", \"priority\": 7}", "process.ioPriority", "I/O priority is not supported")]
    [InlineData("process.scheduler", "{\"policy\": \"SCHED_FIFO\", \"priority\": 10}", "process.scheduler", "scheduling policies are not supported")]
    [InlineData("vm", "{\"kernel\": {\"path\": \"/boot/vmlinuz\"}}", "vm", "the \"vm\" section is not supported")]
    [InlineData("windows", "{\"layerFolders\": []}", "windows", "Windows containers are not supported")]
    [InlineData("solaris", "{}", "solaris", "Solaris zones are not supported")]
    [InlineData("zos", "{}", "zos", "z/OS containers are not supported")]
    [InlineData("mounts", "[{\"destination\": \"/data\", \"source\": \"/x\", \"options\": [\"bind\"], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}]", "mounts[0].uidMappings", "id-mapped mounts are not supported")]
    [InlineData("linux.personality", "{\"domain\": \"LINUX32\"}", "linux.personality.domain", "personality domain \"LINUX32\" is not supported")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "linux.seccomp.defaultAction", SpecValidator.SeccompNotifyMessage)]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}", "linux.seccomp.syscalls[1].action", "SCMP_ACT_NOTIFY is not supported by Moat")]
    [InlineData("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\"}", "linux.seccomp.listenerPath", SpecValidator.SeccompListenerMessage)]
    public void Features_moat_cannot_honour_are_unsupported_not_errors(string field, string raw, string expectedPath, string expectedMessage)
    {
        var result = Validate((field, raw));

        Assert.True(result.Errors.Count == 0, string.Join(" | ", result.Errors));
        Assert.True(result.IsValid);
        Assert.False(result.IsRunnable);
        var issue = Assert.Single(result.Unsupported);
        Assert.Equal(expectedPath, issue.Path);
        Assert.Contains(expectedMessage, issue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seccomp_profiles_are_enforced_so_they_give_no_warning()
    {
        var result = Validate(("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"}]}"));

        Assert.True(result.IsRunnable);
        Assert.Empty(result.Warnings);
        Assert.DoesNotContain("SCMP_ACT_NOTIFY", SpecValidator.SupportedSeccompActions);
        Assert.Contains("SCMP_ACT_KILL_PROCESS", SpecValidator.SupportedSeccompActions);
    }

    [Theory]
    [InlineData("process.apparmorProfile", "\"docker-default\"", "process.apparmorProfile", "AppArmor profile \"docker-default\" is not applied inside the guest")]
    [InlineData("process.selinuxLabel", "\"system_u:system_r:container_t:s0\"", "process.selinuxLabel", "SELinux label")]
    [InlineData("linux.mountLabel", "\"system_u:object_r:container_file_t:s0\"", "linux.mountLabel", "SELinux mount label")]
    [InlineData("process.oomScoreAdj", "-999", "process.oomScoreAdj", "the host OOM killer sees the whole VM")]
    [InlineData("process.consoleSize", "{\"height\": 25, \"width\": 80}", "process.consoleSize", "ignored because process.terminal is not true")]
    [InlineData("process.capabilities", "{\"bounding\": [\"CAP_FUTURE_THING\"]}", "process.capabilities.bounding[0]", "unknown capability \"CAP_FUTURE_THING\" will not be granted")]
    [InlineData("ociVersion", "\"1.2.0\"", "ociVersion", "newer than 1.1.0")]
    [InlineData("ociVersion", "\"0.5.0-dev\"", "ociVersion", "pre-1.0 version")]
    public void Accepted_but_not_enforced_gives_warnings(string field, string raw, string expectedPath, string expectedMessage)
    {
        var result = Validate((field, raw));

        Assert.True(result.IsRunnable, string.Join(" | ", result.Errors.Concat(result.Unsupported)));
        var warning = Assert.Single(result.Warnings);
        Assert.Equal(expectedPath, warning.Path);
        Assert.Contains(expectedMessage, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Console_size_with_terminal_is_fine()
    {
        var result = Validate(("process.terminal", "true"), ("process.consoleSize", "{\"height\": 25, \"width\": 80}"));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Process_is_optional()
    {
        var result = Validate(("process", "<delete>"));
        Assert.True(result.IsRunnable);
    }

    [Fact]
    public void ThrowIfInvalid_reports_first_error_and_counts_on_one_line()
    {
        var result = Validate(
            ("process.cwd", "\"tmp\""),
            ("process.env", "[\"A\", \"B\"]"),
            ("linux.namespaces.5", "{\"type\": \"user\"}"),
            ("linux.intelRdt", "{}"));

        var ex = Assert.Throws<OciConfigException>(() => result.ThrowIfInvalid());
        Assert.Equal(
            "config.json: process.cwd: must be an absolute path, got \"tmp\" (and 2 more errors, 2 unsupported features)",
            ex.Message);
        Assert.Equal("process.cwd", ex.FieldPath);
        Assert.Equal(5, ex.Issues.Count);
    }

    [Fact]
    public void ThrowIfInvalid_reports_unsupported_with_prefix()
    {
        var result = Validate(("linux.namespaces.5", "{\"type\": \"user\"}"), ("linux.uidMappings", "[{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]"));

        var ex = Assert.Throws<OciConfigException>(() => result.ThrowIfInvalid("/b/config.json"));
        Assert.Equal(
            "/b/config.json: unsupported: linux.namespaces[5]: " + SpecValidator.UserNamespaceMessage + " (and 1 more unsupported feature)",
            ex.Message);
    }

    [Fact]
    public void ThrowIfInvalid_single_error_has_no_suffix()
    {
        var ex = Assert.Throws<OciConfigException>(() => Validate(("process.args", "[]")).ThrowIfInvalid());
        Assert.Equal("config.json: process.args: must contain at least one element", ex.Message);
    }

    [Fact]
    public void ThrowIfInvalid_ignores_warnings()
    {
        var result = Validate(("linux.seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\"}"), ("process.apparmorProfile", "\"x\""));
        Assert.Single(result.Warnings);
        result.ThrowIfInvalid();
    }

    [Fact]
    public void Programmatic_nulls_are_reported_not_thrown()
    {
        var spec = new Spec
        {
            OciVersion = "1.1.0",
            Root = new Root { Path = "rootfs" },
            Mounts = [null!],
            Process = new Process { Cwd = "/", Args = ["sh", null!], Env = [null!], User = null! },
            Annotations = new Dictionary<string, string> { ["k"] = null! },
            Linux = new Linux { Namespaces = [null!], Devices = [null!] },
        };

        var result = SpecValidator.Validate(spec);
        var paths = result.Errors.Select(e => e.Path).ToList();
        Assert.Equal(["mounts[0]", "process.args[1]", "process.env[0]", "process.user", "annotations.k", "linux.namespaces[0]", "linux.devices[0]"], paths);
    }

    [Fact]
    public void Issue_to_string()
    {
        Assert.Equal("process.cwd: is required", new ValidationIssue("process.cwd", "is required").ToString());
        Assert.Equal("whole document", new ValidationIssue("", "whole document").ToString());
    }
}
