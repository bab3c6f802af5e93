using Moat.Runtime;

// The VMM launcher alone, in a binary of its own: the runtime's start-up (its data rehydrated,
// its pages faulted in) is paid on every VM start, and it grows with the binary.
return args.Length == 1 && args[0] == VmmHelper.Verb ? VmmHelper.Run() : 2;
