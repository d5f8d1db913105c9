namespace SharpLens.Neurons;

/// <summary>A neuron's activation statistics over every non-BOS token of the indexed windows.</summary>
/// <param name="Count">Activations counted.</param>
/// <param name="Mean">Mean activation.</param>
/// <param name="Std">Population standard deviation.</param>
/// <param name="Min">Smallest activation.</param>
/// <param name="Max">Largest activation.</param>
/// <param name="FractionPositive">Share of tokens where the activation is above 0.</param>
/// <param name="Quantiles">q10, q50, q90, q99 estimated from the histogram (bin resolution).</param>
public sealed record NeuronStatistics(long Count, double Mean, double Std, double Min, double Max, double FractionPositive,
    IReadOnlyDictionary<string, double> Quantiles);

/// <summary>A coarse activation histogram: <c>Counts[i]</c> activations fell in [Edges[i], Edges[i+1]) (see HistogramBins).</summary>
/// <param name="Edges">[bins + 1] edges, the outer ones infinite.</param>
/// <param name="Counts">[bins] counts.</param>
public sealed record ActivationHistogram(IReadOnlyList<double> Edges, IReadOnlyList<long> Counts);

/// <summary>One of a neuron's top windows: the text the model read, with the neuron's activation on every token.</summary>
/// <param name="Rank">1 = highest max activation.</param>
/// <param name="Activation">The neuron's max activation in the window.</param>
/// <param name="WindowId">Corpus-wide window number.</param>
/// <param name="DocumentId">Corpus-wide document number.</param>
/// <param name="DocumentName">File, file:line or Brown id.</param>
/// <param name="StartToken">Offset of the window's first non-BOS token in its document.</param>
/// <param name="Position">Position of the max in the window (0 is BOS; ties go to the earliest position).</param>
/// <param name="TokenIds">[pos] the window's tokens, BOS first.</param>
/// <param name="Tokens">[pos] the tokens as text.</param>
/// <param name="Activations">[pos] the neuron's activation on each token (stored as float16).</param>
public sealed record TopExample(int Rank, float Activation, long WindowId, int DocumentId, string DocumentName, int StartToken, int Position,
    IReadOnlyList<int> TokenIds, IReadOnlyList<string> Tokens, IReadOnlyList<float> Activations);

/// <summary>A token a neuron's output weight promotes or suppresses through the unembedding.</summary>
/// <param name="TokenId">Token id.</param>
/// <param name="Token">Token text.</param>
/// <param name="Effect">W_out[n] · W_U[:, token].</param>
public sealed record LogitEffect(int TokenId, string Token, float Effect);

/// <summary>Everything the index holds about one neuron: the data of its page.</summary>
/// <param name="Id">The neuron.</param>
/// <param name="Provenance">The index it comes from.</param>
/// <param name="Statistics">Activation statistics.</param>
/// <param name="Histogram">Activation histogram.</param>
/// <param name="TopExamples">Top windows, best first.</param>
/// <param name="Promoted">Tokens it most promotes directly, strongest first.</param>
/// <param name="Suppressed">Tokens it most suppresses directly, strongest first.</param>
public sealed record NeuronRecord(NeuronId Id, IndexProvenance Provenance, NeuronStatistics Statistics, ActivationHistogram Histogram,
    IReadOnlyList<TopExample> TopExamples, IReadOnlyList<LogitEffect> Promoted, IReadOnlyList<LogitEffect> Suppressed);

/// <summary>One row of a layer page.</summary>
/// <param name="Neuron">Index in the layer.</param>
/// <param name="Max">Max activation over the corpus.</param>
/// <param name="Mean">Mean activation.</param>
/// <param name="Std">Standard deviation.</param>
/// <param name="FractionPositive">Share of tokens with a positive activation.</param>
/// <param name="TopToken">The token at the max of its best window (null when it has no examples).</param>
public sealed record NeuronSummary(int Neuron, double Max, double Mean, double Std, double FractionPositive, string? TopToken);

/// <summary>A neuron found by a search, with the evidence.</summary>
/// <param name="Id">The neuron.</param>
/// <param name="Activation">Its activation on the matched token (token search: in its top examples; prompt search: on the prompt).</param>
/// <param name="Position">Where in the prompt (prompt search) or window (token search) it fired.</param>
/// <param name="Token">The token it fired on.</param>
/// <param name="RelativeToMax">Activation divided by the neuron's max over the corpus (NaN when unknown).</param>
/// <param name="Examples">Token search: how many of its top examples peak on the token.</param>
public sealed record SearchHit(NeuronId Id, double Activation, int Position, string Token, double RelativeToMax, int Examples);
