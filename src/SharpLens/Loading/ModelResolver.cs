namespace SharpLens.Loading;

/// <summary>Turns a model argument (local folder or hub id) into a folder holding config.json and safetensors weights.</summary>
public static class ModelResolver
{
    /// <summary>
    /// If <paramref name="modelIdOrPath"/> is an existing folder it is returned (after checking it holds
    /// config.json and a safetensors checkpoint); otherwise it is a hub id resolved through the Hugging Face
    /// cache, downloading missing files unless offline; <c>ID@REVISION</c> resolves that branch, tag or commit
    /// (<see cref="HubClient.SplitRevision"/>) instead of <see cref="HubOptions.Revision"/>. <paramref name="options"/> defaults to
    /// <see cref="HubOptions.FromEnvironment"/>.
    /// </summary>
    /// <exception cref="ModelNotFoundException">Not found locally, in the cache, or on the hub; or unreachable.</exception>
    /// <exception cref="InvalidCheckpointException">A download was truncated or corrupt.</exception>
    public static string ResolveModelFolder(string modelIdOrPath, HubOptions? options = null,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default) =>
        ResolveModelFolderAsync(modelIdOrPath, options, progress, ct).GetAwaiter().GetResult();

    /// <summary>Async <see cref="ResolveModelFolder"/>.</summary>
    public static async Task<string> ResolveModelFolderAsync(string modelIdOrPath, HubOptions? options = null,
        IProgress<(string file, long done, long total)>? progress = null, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(modelIdOrPath))
            throw new InvalidInputException("no model given: pass a model folder or a hub id such as gpt2");
        if (Directory.Exists(modelIdOrPath))
        {
            string full = Path.GetFullPath(modelIdOrPath);
            if (!HubClient.ModelFolderComplete(full, out string missing))
                throw new ModelNotFoundException(
                    $"model folder {full} has no {missing}: pass a folder with config.json and model.safetensors (or model.safetensors.index.json and its shards)");
            return full;
        }
        if (File.Exists(modelIdOrPath))
            throw new InvalidInputException($"{modelIdOrPath} is a file: pass the folder that holds config.json and model.safetensors");
        bool looksLikePath = modelIdOrPath.StartsWith('.') || modelIdOrPath.StartsWith('/') || modelIdOrPath.StartsWith('~')
            || modelIdOrPath.Contains('\\') || Path.IsPathRooted(modelIdOrPath) || modelIdOrPath.Count(c => c == '/') > 1;
        if (looksLikePath || !HubClient.IsValidRepoId(HubClient.SplitRevision(modelIdOrPath).RepoId))
            throw new ModelNotFoundException(
                $"model folder {modelIdOrPath} does not exist and is not a hub id: check the path, or pass a hub id such as gpt2 or openai-community/gpt2");
        var (repoId, revision) = HubClient.SplitRevision(modelIdOrPath);
        options ??= HubOptions.FromEnvironment();
        using var client = new HubClient(revision is null ? options : options with { Revision = revision });
        return await client.ResolveModelAsync(repoId, progress, ct).ConfigureAwait(false);
    }
}
