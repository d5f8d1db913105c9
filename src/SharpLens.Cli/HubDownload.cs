using SharpLens.Loading;
using Spectre.Console;

namespace SharpLens.Cli;

/// <summary>Resolves hub ids (ID or ID@REVISION) through the Hugging Face cache (HF_HOME, HF_HUB_CACHE), downloading with a progress bar when needed.</summary>
internal static class HubDownload
{
    public static string Resolve(string modelId)
    {
        var options = HubOptions.FromEnvironment();
        var (repoId, revision) = HubClient.SplitRevision(modelId);
        using (var client = new HubClient(revision is null ? options : options with { Revision = revision }))
            if (client.TryGetCachedModel(repoId, out _) is string cached) return cached;
        string folder = "";
        Cli.Err.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                ProgressTask Task(string file, long total) => tasks.TryGetValue(file, out var t) ? t : tasks[file] = ctx.AddTask(Markup.Escape(file), maxValue: Math.Max(1, total));
                var progress = new Cli.SyncProgress<(string file, long done, long total)>(p =>
                {
                    var task = Task(p.file, p.total);
                    if (p.total > 0) task.MaxValue = p.total;
                    task.Value = p.done;
                    task.Description = Markup.Escape(p.file);
                });
                // A stall or a dropped connection says so on the file's line instead of sitting at the same percentage;
                // with stderr redirected the live line is only redrawn now and then (the next chunk's progress replaces
                // the text), so there the retry is also its own line.
                var retrying = options with
                {
                    Retrying = r =>
                    {
                        Task(r.File, 0).Description = Markup.Escape(r.ToString());
                        if (Console.IsErrorRedirected) Console.Error.WriteLine(r.ToString());
                    },
                };
                folder = ModelResolver.ResolveModelFolder(modelId, retrying, progress);
            });
        return folder;
    }
}
