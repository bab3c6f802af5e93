using Moat.Hypervisor;

namespace Moat.Runtime;

/// <summary>Makes a sandbox's VM: the VMM launched through <paramref name="helper"/>, sharing <paramref name="shareDir"/> (with <paramref name="binds"/>), on the pod's network when there is one.</summary>
public delegate IHypervisor VmFactory(IReadOnlyList<string> helper, string shareDir, IReadOnlyList<ShareBind> binds, PodNetwork? network);
