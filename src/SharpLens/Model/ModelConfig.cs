namespace SharpLens.Model;

/// <summary>
/// The shape of a GPT-2-family transformer, in TransformerLens' names (HookedTransformerConfig).
/// </summary>
public sealed record ModelConfig
{
    public required int NLayers { get; init; }
    public required int DModel { get; init; }
    public required int NHeads { get; init; }
    public required int DHead { get; init; }
    public required int DMlp { get; init; }
    public required int DVocab { get; init; }
    public required int NCtx { get; init; }
    public float LayerNormEps { get; init; } = 1e-5f;
    /// <summary>Id of the beginning-of-sequence token prepended by default ("&lt;|endoftext|&gt;" = 50256 for GPT-2).</summary>
    public int BosTokenId { get; init; } = 50256;
    public string ModelName { get; init; } = "gpt2";

    public static ModelConfig Gpt2Small => new()
    {
        NLayers = 12, DModel = 768, NHeads = 12, DHead = 64, DMlp = 3072, DVocab = 50257, NCtx = 1024,
    };

    public void Validate()
    {
        if (NLayers <= 0 || DModel <= 0 || NHeads <= 0 || DHead <= 0 || DMlp <= 0 || DVocab <= 0 || NCtx <= 0)
            throw new InvalidCheckpointException($"invalid model config {this}: every size must be positive");
    }
}
