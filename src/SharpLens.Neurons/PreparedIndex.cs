using SharpLens.Model;
using SharpLens.Neurons.Corpora;
using SharpLens.Neurons.Indexing;
using SharpLens.Neurons.Storage;

namespace SharpLens.Neurons;

/// <summary>
/// An index run that has passed every check and holds its open file (<see cref="NeuronIndexBuilder.Prepare"/>); disposing
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

    internal PreparedIndex(HookedTransformer model, Corpus corpus, IndexOptions options, NeuronStore store, IndexState state, long shardWindows)
        => (_model, _corpus, _options, _store, _state, _shardWindows) = (model, corpus, options, store, state, shardWindows);

    /// <summary>Indexes the windows not yet done, saving checkpoints as it goes, and closes the file.</summary>
    /// <param name="progress">Receives progress (overrides <see cref="IndexOptions.Progress"/>); null for none.</param>
    /// <returns>The provenance after the run (<see cref="IndexProvenance.Complete"/> is false when it stopped early).</returns>
    public IndexProvenance Run(IProgress<IndexProgress>? progress)
    {
        using (_store)
        {
            if (!_state.Complete)
                NeuronIndexer.Run(_model, _corpus, _options with { Progress = progress }, _state, _shardWindows, _store.Save);
            return _store.Provenance;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _store.Dispose();
}
