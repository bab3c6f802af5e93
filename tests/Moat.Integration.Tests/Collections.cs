namespace Moat.Integration.Tests;

/// <summary>VM tests run one at a time: two cores and software emulation leave no room for more.</summary>
[CollectionDefinition("vm", DisableParallelization = true)]
public sealed class VmCollection;
