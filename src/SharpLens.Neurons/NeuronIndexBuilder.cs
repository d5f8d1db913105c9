using SharpLens.Analysis.Attribution;
using SharpLens.Model;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;

namespace SharpLens.Neurons;

/// <summary>Builds (or resumes) an index file over a corpus, and merges shards into one index.</summary>
public static class NeuronIndexBuilder
{
    /// <summary>
    /// Indexes <paramref name="corpus"/> into <paramref name="path"/>. When the file exists and was started with the same
    /// model, corpus and options it is resumed from its last checkpoint; otherwise it is created. Everything that can be
    /// checked (options, every corpus file, an existing file's provenance) is checked before the first forward pass.
    /// </summary>
    /// <returns>The provenance after the run (<see cref="IndexProvenance.Complete"/> is false when it stopped early).</returns>
    public static IndexProvenance Build(HookedTransformer model, Corpus corpus, string path, IndexOptions options)
    {
        using var run = Prepare(model, corpus, path, options);
        return run.Run(options.Progress);
    }

    /// <summary>
    /// Does every check of <see cref="Build"/> (options, corpus, an existing file's provenance) and opens or creates the
    /// file, without any forward pass; <see cref="PreparedIndex.Run"/> then indexes. Callers that show progress prepare
    /// first, so that a refused resume is one error line and not a progress bar followed by an error.
    /// </summary>
    public static PreparedIndex Prepare(HookedTransformer model, Corpus corpus, string path, IndexOptions options)
    {
        var claim = LockOutput(path);
        try { return Prepare(model, corpus, claim, options, ownsClaim: true); }
        catch { claim.Dispose(); throw; }
    }

    /// <summary>
    /// <see cref="Prepare(HookedTransformer, Corpus, string, IndexOptions)"/> for an index file the caller claimed with
    /// <see cref="LockOutput"/> before loading the model (the caller keeps the claim until the run is done).
    /// </summary>
    public static PreparedIndex Prepare(HookedTransformer model, Corpus corpus, NeuronIndexLock output, IndexOptions options) =>
        Prepare(model, corpus, output, options, ownsClaim: false);

    private static PreparedIndex Prepare(HookedTransformer model, Corpus corpus, NeuronIndexLock output, IndexOptions options, bool ownsClaim)
    {
        var cfg = model.Config;
        var tokenizer = model.RequireTokenizer();
        options.Check();
        var layers = (options.Layers ?? Enumerable.Range(0, cfg.NLayers).ToArray()).Distinct().Order().ToArray();
        if (layers.Length == 0) throw new InvalidInputException("no layers to index: pass --layers such as 8,10, or leave it out for every layer");
        foreach (int l in layers)
            if (l < 0 || l >= cfg.NLayers) throw new InvalidInputException($"layer {l} does not exist: the model has layers 0..{cfg.NLayers - 1}");
        if (options.Context < 2 || options.Context > cfg.NCtx)
            throw new InvalidInputException($"--context {options.Context} is out of range: use 2..{cfg.NCtx} (the model's context)");
        IndexState.RequireMemoryFor(layers.Length, cfg.DMlp, options.TopK, options.Context);
        string path = output.Path;

        var (windows, shardWindows, tokens) = NeuronIndexer.Count(corpus, tokenizer, options.Context, options.ShardIndex, options.ShardCount);
        if (tokens == 0) throw new InvalidInputException($"corpus {corpus.Root} holds no text: give it at least one non-empty document");
        var provenance = new IndexProvenance
        {
            ModelId = cfg.Revision is null ? cfg.SourceFolder ?? cfg.ModelName : cfg.ModelName, ModelRevision = cfg.Revision ?? "",
            ModelHash = ModelFingerprint.Compute(model), NLayers = cfg.NLayers, DMlp = cfg.DMlp, DVocab = cfg.DVocab,
            Layers = layers, Context = options.Context, TopK = options.TopK, BosTokenId = cfg.BosTokenId,
            Corpus = corpus.Description, CorpusHash = corpus.ComputeHash(), CorpusWindows = windows, CorpusTokens = tokens,
            Shards = $"{options.ShardIndex}/{options.ShardCount}", ShardWindows = shardWindows,
            SharpLensVersion = BuildInfo.Version, Created = DateTimeOffset.UtcNow.ToString("o"),
        };

        string TokenText(int id) => tokenizer.ToStrTokens([id])[0];
        NeuronStore store;
        IndexState state;
        if (File.Exists(path))
        {
            store = NeuronStore.Open(path);
            store.TokenText = TokenText;
            try
            {
                RequireSameRun(store.Provenance, provenance, path);
                state = store.Load();
            }
            catch { store.Dispose(); throw; }
        }
        else
        {
            // The state first: memory it cannot get must not leave behind a file that later runs would resume.
            state = new IndexState(layers, cfg.DMlp, options.TopK);
            store = NeuronStore.Create(path, provenance);
            store.TokenText = TokenText;
            try
            {
                if (options.DirectEffectTokens > 0)
                    foreach (int l in layers)
                    {
                        var promoted = NeuronDirectEffect.TopTokens(model, l, options.DirectEffectTokens, out var suppressed);
                        store.SaveDirectLogits(l, promoted, suppressed);
                    }
            }
            catch { store.Dispose(); throw; }
        }
        return new PreparedIndex(model, corpus, options, store, state, shardWindows, ownsClaim ? output : null);
    }

    /// <summary>
    /// Claims <paramref name="path"/> for one writer (<see cref="NeuronIndexLock"/>) after checking, before any model
    /// work, that it can be written: an existing file must be a neuron index (it will be resumed), otherwise its folder
    /// is created when missing and must accept a new file. Keep the claim until the run is done.
    /// </summary>
    /// <exception cref="InvalidInputException">The path cannot be written, is not an index, or another run is writing it.</exception>
    public static NeuronIndexLock LockOutput(string path)
    {
        path = Path.GetFullPath(path);
        if (Directory.Exists(path)) throw new InvalidInputException($"--out {path} is a folder: give a file name such as {Path.Combine(path, "neurons.db")}");
        string folder = Path.GetDirectoryName(path)!;
        try { Directory.CreateDirectory(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"cannot create folder {folder} for {Path.GetFileName(path)}: {e.Message.Split('\n')[0]}: choose a writable --out");
        }
        string probe = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.probe");
        try { using (File.Create(probe)) { } File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException(FileErrors.Describe(e) ?? $"cannot write {path}: {e.Message.Split('\n')[0]}: choose a writable --out", e);
        }
        var claim = NeuronIndexLock.Acquire(path);
        try
        {
            if (File.Exists(path)) NeuronStore.Open(path).Dispose();
            return claim;
        }
        catch { claim.Dispose(); throw; }
    }

    private static void RequireSameRun(IndexProvenance existing, IndexProvenance wanted, string path)
    {
        void Same(string what, object a, object b)
        {
            if (!Equals(a, b))
                throw new InvalidInputException($"{path} was started with {what} {a}, not {b}: resume it with the same model, corpus and options, or choose another --out");
        }
        // The weights identify the model; its name or folder may differ between runs (a moved folder, a hub id for a cached snapshot).
        if (existing.ModelHash != wanted.ModelHash)
            Same("model", $"{existing.ModelId} (weights {existing.ModelHash[..12]})", $"{wanted.ModelId} (weights {wanted.ModelHash[..12]})");
        Same("corpus", $"{existing.Corpus} (sha256 {existing.CorpusHash[..12]})", $"{wanted.Corpus} (sha256 {wanted.CorpusHash[..12]})");
        Same("--layers", string.Join(",", existing.Layers), string.Join(",", wanted.Layers));
        Same("--context", existing.Context, wanted.Context);
        Same("--top", existing.TopK, wanted.TopK);
        Same("--shard", existing.Shards, wanted.Shards);
    }

    /// <summary>
    /// Merges the complete shard indexes of one split of one model and corpus (every shard i/n, each once) into
    /// <paramref name="output"/>. Top examples and statistics merge exactly, so the result has the same tables as one run
    /// over the whole corpus. A missing shard is an error: a merged index claims the whole corpus.
    /// </summary>
    public static IndexProvenance Merge(IReadOnlyList<string> inputs, string output)
    {
        if (inputs.Count < 1) throw new InvalidInputException("nothing to merge: pass the shard indexes, e.g. neurons merge a.db b.db --out all.db");
        output = Path.GetFullPath(output);
        if (File.Exists(output)) throw new InvalidInputException($"{output} already exists: choose another --out (merge never overwrites)");
        using var claim = LockOutput(output);
        var stores = new List<NeuronStore>();
        try
        {
            foreach (var input in inputs)
            {
                if (!File.Exists(input)) throw new InvalidInputException($"neuron index {Path.GetFullPath(input)} does not exist");
                stores.Add(NeuronStore.Open(input));
            }
            var first = stores[0].Provenance;
            var shards = new SortedSet<(int Index, int Count)>();
            foreach (var store in stores)
            {
                var p = store.Provenance;
                if (!p.Complete)
                    throw new InvalidInputException($"{store.Path} is incomplete ({p.WindowsDone} of {p.ShardWindows} windows): resume it with sharplens neurons index before merging");
                RequireSameRun(first with { Shards = p.Shards }, p, store.Path);
                foreach (var shard in ParseShards(p.Shards, store.Path))
                {
                    if (shards.Count > 0 && shards.Min.Count != shard.Count)
                        throw new InvalidInputException($"{store.Path} holds shard {shard.Index}/{shard.Count}, but other inputs were split into {shards.Min.Count}: merge shards of one split");
                    if (!shards.Add(shard)) throw new InvalidInputException($"shard {shard.Index}/{shard.Count} is given twice ({store.Path}): merge each shard once");
                }
            }
            int split = shards.Min.Count;
            var missing = Enumerable.Range(0, split).Where(i => !shards.Contains((i, split))).Select(i => $"{i}/{split}").ToList();
            if (missing.Count > 0)
                throw new InvalidInputException($"shard{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} of the {split}-way split {(missing.Count > 1 ? "are" : "is")} missing, so the merge would not cover the corpus: " +
                    $"index {(missing.Count > 1 ? "them" : "it")} (neurons index --shard {missing[0]}) and merge all {split} shards");
            var merged = new IndexState(first.Layers, first.DMlp, first.TopK);
            foreach (var store in stores)
            {
                var state = store.Load();
                for (int i = 0; i < merged.Accumulators.Length; i++) merged.Accumulators[i].Merge(state.Accumulators[i]);
                foreach (var (id, window) in state.Windows) merged.Windows[id] = window;
                foreach (var (id, name) in state.DocumentNames) merged.DocumentNames[id] = name;
                merged.WindowsDone += state.WindowsDone;
                merged.TokensDone += state.TokensDone;
                merged.NextWindow = Math.Max(merged.NextWindow, state.NextWindow);
            }
            merged.Complete = true;
            merged.PruneWindows();
            var provenance = first with
            {
                Shards = string.Join(",", shards.Select(s => $"{s.Index}/{s.Count}")),
                ShardWindows = stores.Sum(s => s.Provenance.ShardWindows),
                Created = DateTimeOffset.UtcNow.ToString("o"),
            };
            using var target = NeuronStore.Create(output, provenance);
            foreach (var store in stores) target.SaveVocabulary(store.ReadVocabulary());
            target.Save(merged);
            target.CopyDirectLogits(stores[0].Path);
            return target.Provenance;
        }
        finally
        {
            foreach (var store in stores) store.Dispose();
        }
    }

    private static IEnumerable<(int Index, int Count)> ParseShards(string text, string path) => text.Split(',').Select(s =>
    {
        var parts = s.Split('/');
        return parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) ? (i, n)
            : throw new InvalidInputException($"{path} has an unreadable shard list '{text}'");
    });
}
