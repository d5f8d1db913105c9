namespace SharpLens.Cli;

/// <summary>Resolves hub ids through the Hugging Face cache, downloading with a progress bar when needed.</summary>
internal static class HubDownload
{
    public static string Resolve(string modelId) =>
        throw new ModelNotFoundException($"model '{modelId}' is not a local folder and hub download is not wired yet");
}
