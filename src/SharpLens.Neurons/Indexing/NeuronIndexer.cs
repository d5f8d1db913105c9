using System.Diagnostics;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Corpora;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Neurons.Indexing;

/// <summary>
/// The indexing pass: documents are tokenized one at a time and split into BOS-prefixed windows; full-length windows
/// are batched, document ends run on their own (so no window is ever padded, and a window's activations do not depend
/// on what it was batched with); the forward pass stops right after the last indexed layer's <c>mlp.hook_post</c>
/// (<see cref="ForwardOptions.StopAfter"/>: no W_out there, no later block, no unembedding) and each
/// <c>mlp.hook_post</c> is folded into its layer's accumulator inside the hook, so nothing is cached.
/// </summary>
internal static class NeuronIndexer
{
    /// <summary>Counts the windows and tokens of the whole corpus and of one shard (one tokenization pass; checks every file).</summary>
    public static (long Windows, long ShardWindows, long Tokens) Count(Corpus corpus, Tokenizer tokenizer, int context, int shardIndex, int shardCount)
    {
        long windows = 0, shard = 0, tokens = 0;
        foreach (var doc in corpus.Documents())
        {
            int n = tokenizer.ToTokens(doc.Text, prependBos: false).Length;
            int w = TokenWindow.Count(n, context);
            // Windows windows..windows+w-1 belong to the shard when id % count == index.
            shard += CountInShard(windows, w, shardIndex, shardCount);
            windows += w;
            tokens += n;
        }
        return (windows, shard, tokens);
    }

    private static long CountInShard(long first, long count, int index, int shards)
    {
        long Below(long x) => x <= 0 ? 0 : (x - 1 - index) / shards + (x - 1 >= index ? 1 : 0);
        return Below(first + count) - Below(first);
    }

    /// <summary>
    /// Time from one checkpoint to the next: the configured interval, but at least nine times what the last save took,
    /// so saving never takes more than a tenth of a run (a large index on a slow disk is saved less often, not the pass
    /// slowed down); an interval of zero still saves after every batch.
    /// </summary>
    internal static TimeSpan CheckpointDue(TimeSpan interval, TimeSpan lastSave) =>
        interval <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Max(interval.Ticks, lastSave.Ticks * 9));

    /// <summary>Runs (or resumes) the pass over <paramref name="corpus"/>, calling <paramref name="checkpoint"/> at
    /// batch boundaries every <see cref="IndexOptions.CheckpointInterval"/> (<see cref="CheckpointDue"/>) and once at
    /// the end.</summary>
    public static IndexState Run(HookedTransformer model, Corpus corpus, IndexOptions options, IndexState state, long shardWindowsTotal,
        Action<IndexState>? checkpoint = null)
    {
        var tokenizer = model.RequireTokenizer();
        int context = options.Context, bos = model.Config.BosTokenId;
        string stopAfter = HookNames.MlpPost(state.Layers.Max());
        var batch = new List<TokenWindow>(options.BatchWindows);
        var clock = Stopwatch.StartNew();
        var sinceCheckpoint = Stopwatch.StartNew();
        var lastSave = TimeSpan.Zero;
        long tokensThisRun = 0, windowsThisRun = 0;
        // Full batches all have one shape, so their activations reuse one set of arrays from batch to batch (new
        // memory costs a page fault per 4 KiB); document ends vary in length and recycle only within their own pass.
        var fullBatchMemory = new TensorPool();

        void RunBatch(List<TokenWindow> windows)
        {
            int pos = windows[0].Tokens.Length;
            var used = new bool[windows.Count];
            var hooks = state.Layers.Select(l => new Hook(HookNames.MlpPost(l), (post, _) =>
            {
                state.For(l).Add(post.Data, pos, windows, used);
                return null;
            })).ToList();
            var tokens = new TokenBatch(windows.Select(w => (IReadOnlyList<int>)w.Tokens).ToList(), bos);
            var pool = windows.Count == options.BatchWindows && pos == context ? fullBatchMemory : null;
            var lastPost = model.Run(tokens, new ForwardOptions
            {
                Hooks = hooks,
                StopAfter = stopAfter,
                Pool = pool,
                HooksKeepActivations = false, // the accumulators read hook_post inside the hook and keep nothing
            });
            pool?.Give(lastPost.Data); // the pass's result (the last layer's hook_post) is dead too
            for (int b = 0; b < windows.Count; b++)
            {
                if (used[b]) state.Windows[windows[b].Id] = windows[b];
                state.WindowsDone++;
                state.TokensDone += pos - 1;
                tokensThisRun += pos - 1;
                windowsThisRun++;
            }
            options.Progress?.Report(new IndexProgress(state.WindowsDone, shardWindowsTotal, tokensThisRun, clock.Elapsed));
        }

        // Saves when due: runs the pending batch first, so every window of this shard below `next` is in.
        bool SaveIfDue(int document, long documentFirstWindow, long next, bool force)
        {
            bool stop = options.Cancellation.IsCancellationRequested || (options.StopAfterWindows is long max && windowsThisRun + batch.Count >= max);
            if (!force && !stop && sinceCheckpoint.Elapsed < CheckpointDue(options.CheckpointInterval, lastSave)) return false;
            if (batch.Count > 0) { RunBatch(batch); batch.Clear(); }
            state.NextDocument = document; state.NextDocumentFirstWindow = documentFirstWindow; state.NextWindow = next;
            state.PruneWindows();
            var saving = Stopwatch.StartNew();
            checkpoint?.Invoke(state);
            lastSave = saving.Elapsed;
            sinceCheckpoint.Restart();
            return stop;
        }

        int nextDocument = state.NextDocument;
        long nextFirst = state.NextDocumentFirstWindow;
        foreach (var doc in corpus.Documents(state.NextDocument))
        {
            long first = doc.Index == state.NextDocument ? state.NextDocumentFirstWindow : nextFirst;
            var ids = tokenizer.ToTokens(doc.Text, prependBos: false);
            foreach (var window in TokenWindow.Split(ids, doc.Index, first, context, bos))
            {
                if (window.Id < state.NextWindow || window.Id % options.ShardCount != options.ShardIndex) continue;
                state.DocumentNames.TryAdd(doc.Index, doc.Name);
                if (window.Tokens.Length == context)
                {
                    batch.Add(window);
                    if (batch.Count >= options.BatchWindows) { RunBatch(batch); batch.Clear(); }
                }
                else RunBatch([window]);
                if (SaveIfDue(doc.Index, first, window.Id + 1, force: false)) return state;
            }
            nextDocument = doc.Index + 1;
            nextFirst = first + TokenWindow.Count(ids.Length, context);
            if (SaveIfDue(nextDocument, nextFirst, nextFirst, force: false)) return state;
        }
        state.Complete = true;
        SaveIfDue(nextDocument, nextFirst, Math.Max(state.NextWindow, nextFirst), force: true);
        return state;
    }
}
