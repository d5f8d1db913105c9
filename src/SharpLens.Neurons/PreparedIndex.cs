using SharpLens.Model;
using SharpLens.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;

namespace SharpLens.Neurons;

/// <summary>
/// An index run that has passed every check and holds its open file (<see cref="NeuronIndexBuilder.Prepare(HookedTransformer, Corpus, string, IndexOptions)"/>); disposing
/// it without <see cref="Run"/> leaves the file as it was (a new file holds only its provenance and can be resumed).
/// </summary>
public sealed class PreparedIndex : IDisposable
{
    private readonly HookedTransformer _model;
    private readonly Corpus _corpus;
    private readonly IndexOptions _options;
    private readonly NeuronStore _store;
    private readonly IndexState _state;
    private readonly long _shardWindows;
    private readonly NeuronIndexLock? _ownedClaim;

    internal PreparedIndex(HookedTransformer model, Corpus corpus, IndexOptions options, NeuronStore store, IndexState state, long shardWindows,
        NeuronIndexLock? ownedClaim)
        => (_model, _corpus, _options, _store, _state, _shardWindows, _ownedClaim) = (model, corpus, options, store, state, shardWindows, ownedClaim);

    /// <summary>Indexes the windows not yet done, saving checkpoints as it goes, and closes the file.</summary>
    /// <param name="progress">Receives progress (overrides <see cref="IndexOptions.Progress"/>); null for none.</param>
    /// <returns>The provenance after the run (<see cref="IndexProvenance.Complete"/> is false when it stopped early).</returns>
    public IndexProvenance Run(IProgress<IndexProgress>? progress)
    {
        using (this)
        {
            if (!_state.Complete)
                NeuronIndexer.Run(_model, _corpus, _options with { Progress = progress }, _state, _shardWindows, _store.Save);
            return _store.Provenance;
        }
    }

    /// <summary>Closes the file, and releases the claim on it when <see cref="NeuronIndexBuilder"/> took it for this run.</summary>
    public void Dispose()
    {
        _store.Dispose();
        _ownedClaim?.Dispose();
    }
}
