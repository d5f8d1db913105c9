namespace SharpLens.Tests.Readme;

/// <summary>
/// The README tests run alone: the C# sample resolves <c>gpt2</c> through this process's environment
/// (HF_HUB_CACHE), which they set for the duration of the sample, and the shell tour is the longest test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReadmeCollection
{
    public const string Name = "README";
}
