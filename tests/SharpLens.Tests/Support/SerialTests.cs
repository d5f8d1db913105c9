namespace SharpLens.Tests.Support;

/// <summary>
/// Tests that run alone, one after another, once the parallel tests are done: the load test (the process's heap must
/// measure the explorer and nothing else), the explorer in Chromium and the examples (each compiles with the SDK), which
/// would otherwise take the 2 cores from time-limited browser tests running beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "serial";
}
