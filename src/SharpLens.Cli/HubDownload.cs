using SharpLens.Loading;
using Spectre.Console;

namespace SharpLens.Cli;

/// <summary>Resolves hub ids through the Hugging Face cache (HF_HOME, HF_HUB_CACHE), downloading with a progress bar when needed.</summary>
internal static class HubDownload
{
    public static string Resolve(string modelId)
    {
        var options = HubOptions.FromEnvironment();
        using var client = new HubClient(options);
        if (client.TryGetCachedModel(modelId, out _) is string cached) return cached;
        string folder = "";
        Cli.Err.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new Cli.SyncProgress<(string file, long done, long total)>(p =>
                {
                    if (!tasks.TryGetValue(p.file, out var task)) tasks[p.file] = task = ctx.AddTask(p.file, maxValue: Math.Max(1, p.total));
                    if (p.total > 0) task.MaxValue = p.total;
                    task.Value = p.done;
                });
                folder = ModelResolver.ResolveModelFolder(modelId, options, progress);
            });
        return folder;
    }
}
