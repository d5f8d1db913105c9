namespace SharpLens.Model;

/// <summary>
/// The shape of a GPT-2-family transformer, in TransformerLens' names (HookedTransformerConfig).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Number of transformer blocks (n_layers).</summary>
    public required int NLayers { get; init; }
    /// <summary>Residual stream width (d_model).</summary>
    public required int DModel { get; init; }
    /// <summary>Attention heads per block (n_heads).</summary>
    public required int NHeads { get; init; }
    /// <summary>Width of each head's query, key and value vectors (d_head).</summary>
    public required int DHead { get; init; }
    /// <summary>MLP hidden width, neurons per layer (d_mlp).</summary>
    public required int DMlp { get; init; }
    /// <summary>Vocabulary size (d_vocab).</summary>
    public required int DVocab { get; init; }
    /// <summary>Context length: positions per sequence at most (n_ctx).</summary>
    public required int NCtx { get; init; }
    /// <summary>LayerNorm epsilon (eps).</summary>
    public float LayerNormEps { get; init; } = 1e-5f;
    /// <summary>Id of the beginning-of-sequence token prepended by default ("&lt;|endoftext|&gt;" = 50256 for GPT-2).</summary>
    public int BosTokenId { get; init; } = 50256;
    /// <summary>The model's name, e.g. "gpt2" (model_name), shown in results and reports: the hub id when the weights
    /// come from a Hugging Face cache snapshot, else the folder's name.</summary>
    public string ModelName { get; init; } = "gpt2";
    /// <summary>The hub commit of a Hugging Face cache snapshot the weights were read from (the folder
    /// <c>models--org--name/snapshots/COMMIT</c>); null for any other folder or for weights made in memory.</summary>
    public string? Revision { get; init; }
    /// <summary>Full path of the folder the weights were read from; null for weights made in memory.</summary>
    public string? SourceFolder { get; init; }

    /// <summary>GPT-2 small: 12 layers, d_model 768, 12 heads of 64, d_mlp 3072, d_vocab 50257, n_ctx 1024.</summary>
    public static ModelConfig Gpt2Small => new()
    {
        NLayers = 12, DModel = 768, NHeads = 12, DHead = 64, DMlp = 3072, DVocab = 50257, NCtx = 1024,
    };

    /// <summary>Throws <see cref="InvalidCheckpointException"/> unless every size is positive.</summary>
    public void Validate()
    {
        if (NLayers <= 0 || DModel <= 0 || NHeads <= 0 || DHead <= 0 || DMlp <= 0 || DVocab <= 0 || NCtx <= 0)
            throw new InvalidCheckpointException($"invalid model config {this}: every size must be positive");
    }
}
