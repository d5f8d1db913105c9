namespace SharpLens.Model;

/// <summary>
/// The shape and architecture of a transformer, in TransformerLens' <c>HookedTransformerConfig</c> names (the C# name is
/// the Pascal-case of the TransformerLens one: <c>n_key_value_heads</c> → <see cref="NKeyValueHeads"/>). It says which
/// components a block is made of: the normalization (<see cref="NormalizationType"/>), the positions
/// (<see cref="PositionalEmbeddingType"/>), the attention (<see cref="NKeyValueHeads"/>, <see cref="UseQkNorm"/>,
/// local windows), the MLP (<see cref="GatedMlp"/>, <see cref="ActFn"/>, <see cref="AttnOnly"/>) and the residual wiring
/// (<see cref="ParallelAttnMlp"/>). <see cref="ModelConfigJson"/> reads and writes it as a TransformerLens config dict.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Activation functions an MLP may use (TransformerLens' names; gelu_pytorch_tanh is Hugging Face's name
    /// for gelu_new).</summary>
    public static readonly IReadOnlyList<string> SupportedActivations = ["gelu_new", "gelu", "gelu_fast", "gelu_pytorch_tanh", "silu", "relu"];

    /// <summary>Number of transformer blocks (n_layers).</summary>
    public required int NLayers { get; init; }
    /// <summary>Residual stream width (d_model).</summary>
    public required int DModel { get; init; }
    /// <summary>Attention (query) heads per block (n_heads).</summary>
    public required int NHeads { get; init; }
    /// <summary>Width of each head's query, key and value vectors (d_head); need not be d_model / n_heads.</summary>
    public required int DHead { get; init; }
    /// <summary>MLP hidden width, neurons per layer (d_mlp); unused when <see cref="AttnOnly"/>.</summary>
    public required int DMlp { get; init; }
    /// <summary>Vocabulary size (d_vocab).</summary>
    public required int DVocab { get; init; }
    /// <summary>Context length: positions per sequence at most (n_ctx).</summary>
    public required int NCtx { get; init; }
    /// <summary>The normalizations' epsilon (TransformerLens' eps; layer_norm_epsilon / rms_norm_eps in Hugging Face configs).</summary>
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
    /// <summary>The MLP's activation (act_fn): one of <see cref="SupportedActivations"/>.</summary>
    public string ActFn { get; init; } = "gelu_new";
    /// <summary>normalization_type of the unprocessed model: "LN" (LayerNorm with w and b) or "RMS" (RMSNorm with w);
    /// "LNPre" / "RMSPre" for a model built without norm weights. Weight processing (fold_ln) removes the weights and
    /// the model then reports LNPre / RMSPre per norm (<see cref="Components.Normalization.NormalizationType"/>).</summary>
    public string NormalizationType { get; init; } = "LN";
    /// <summary>final_rms: ln_final is an RMSNorm even when the blocks use LayerNorm.</summary>
    public bool FinalRms { get; init; }
    /// <summary>positional_embedding_type: "standard" (learned W_pos added to the residual stream) or "rotary" (queries
    /// and keys rotated by position; no hook_pos_embed).</summary>
    public string PositionalEmbeddingType { get; init; } = "standard";
    /// <summary>rotary_dim: how many dimensions of each head are rotated (the first ones); null = d_head.</summary>
    public int? RotaryDim { get; init; }
    /// <summary>rotary_base: θ of the rotary frequencies 1/θ^(2i/rotary_dim) (rope_theta, rotary_emb_base).</summary>
    public float RotaryBase { get; init; } = 10000f;
    /// <summary>rotary_adjacent_pairs: rotate dimensions (2i, 2i+1) together (GPT-J) instead of (i, i + rotary_dim/2)
    /// (GPT-NeoX, Llama and the other families here).</summary>
    public bool RotaryAdjacentPairs { get; init; }
    /// <summary>use_NTK_by_parts_rope: Llama-3's frequency scaling (Hugging Face rope_scaling type "llama3").</summary>
    public bool UseNtkByPartsRope { get; init; }
    /// <summary>NTK_by_parts_factor: long wavelengths are divided by it (rope_scaling.factor).</summary>
    public float NtkByPartsFactor { get; init; } = 8f;
    /// <summary>NTK_by_parts_low_freq_factor (rope_scaling.low_freq_factor).</summary>
    public float NtkByPartsLowFreqFactor { get; init; } = 1f;
    /// <summary>NTK_by_parts_high_freq_factor (rope_scaling.high_freq_factor).</summary>
    public float NtkByPartsHighFreqFactor { get; init; } = 4f;
    /// <summary>NTK_original_ctx_len (rope_scaling.original_max_position_embeddings).</summary>
    public int NtkOriginalCtxLen { get; init; } = 8192;
    /// <summary>n_key_value_heads: key/value heads (grouped-query attention: each serves n_heads / n_key_value_heads
    /// consecutive query heads); null = n_heads.</summary>
    public int? NKeyValueHeads { get; init; }
    /// <summary>use_qk_norm: an RMSNorm over d_head on every query and key head before rotary (Qwen3: attn.q_norm, attn.k_norm).</summary>
    public bool UseQkNorm { get; init; }
    /// <summary>use_local_attn: some blocks attend only to the last <see cref="WindowSize"/> keys (<see cref="AttnTypes"/>).</summary>
    public bool UseLocalAttn { get; init; }
    /// <summary>window_size: a local block's query attends to keys k with q − k &lt; window_size (itself included).</summary>
    public int? WindowSize { get; init; }
    /// <summary>attn_types: "global" or "local" per block (n_layers entries), with <see cref="UseLocalAttn"/>.</summary>
    public IReadOnlyList<string>? AttnTypes { get; init; }
    /// <summary>gated_mlp: post = act(x·W_gate)·(x·W_in) + b_in (Llama, Mistral, Qwen) instead of act(x·W_in + b_in).</summary>
    public bool GatedMlp { get; init; }
    /// <summary>parallel_attn_mlp: attention and MLP both read resid_pre and resid_post = resid_pre + attn_out + mlp_out
    /// (GPT-NeoX, GPT-J); no hook_resid_mid.</summary>
    public bool ParallelAttnMlp { get; init; }
    /// <summary>attn_only: blocks have no MLP (and no ln2): resid_post = resid_pre + attn_out.</summary>
    public bool AttnOnly { get; init; }
    /// <summary>original_architecture: the Hugging Face architecture the model was loaded from (e.g. LlamaForCausalLM), or null.</summary>
    public string? OriginalArchitecture { get; init; }
    /// <summary>default_prepend_bos: whether text is tokenized with BOS first unless a call says otherwise.</summary>
    public bool DefaultPrependBos { get; init; } = true;

    /// <summary>Key/value heads per block: <see cref="NKeyValueHeads"/>, or n_heads.</summary>
    public int KeyValueHeads => NKeyValueHeads ?? NHeads;
    /// <summary>Whether positions are rotary (no learned W_pos).</summary>
    public bool IsRotary => PositionalEmbeddingType == "rotary";
    /// <summary>Rotated dimensions per head: <see cref="RotaryDim"/>, or d_head.</summary>
    public int EffectiveRotaryDim => RotaryDim ?? DHead;
    /// <summary>Whether the norms are RMSNorm (normalization_type RMS or RMSPre).</summary>
    public bool UsesRmsNorm => NormalizationType is "RMS" or "RMSPre";

    /// <summary>The attention window of block <paramref name="layer"/>: <see cref="WindowSize"/> for a local block, null for a global one.</summary>
    public int? WindowOf(int layer) => UseLocalAttn && AttnTypes is { } types && types[layer] == "local" ? WindowSize : null;

    /// <summary>GPT-2 small: 12 layers, d_model 768, 12 heads of 64, d_mlp 3072, d_vocab 50257, n_ctx 1024.</summary>
    public static ModelConfig Gpt2Small => new()
    {
        NLayers = 12, DModel = 768, NHeads = 12, DHead = 64, DMlp = 3072, DVocab = 50257, NCtx = 1024,
    };

    /// <summary>Throws <see cref="InvalidCheckpointException"/> naming the first setting that is impossible or that
    /// contradicts another (one line, with what to change).</summary>
    public void Validate()
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new InvalidCheckpointException($"invalid model config: {problem}");
        }
        Require(NLayers > 0 && DModel > 0 && NHeads > 0 && DHead > 0 && DVocab > 0 && NCtx > 0,
            $"n_layers {NLayers}, d_model {DModel}, n_heads {NHeads}, d_head {DHead}, d_vocab {DVocab} and n_ctx {NCtx} must all be positive");
        Require(AttnOnly || DMlp > 0, $"d_mlp {DMlp} must be positive (or set attn_only)");
        Require(LayerNormEps > 0 && float.IsFinite(LayerNormEps), $"eps {LayerNormEps} must be a small positive number");
        Require(SupportedActivations.Contains(ActFn), $"act_fn '{ActFn}' is not supported: use one of {string.Join(", ", SupportedActivations)}");
        Require(NormalizationType is "LN" or "LNPre" or "RMS" or "RMSPre",
            $"normalization_type '{NormalizationType}' is not supported: use LN, LNPre, RMS or RMSPre");
        Require(PositionalEmbeddingType is "standard" or "rotary",
            $"positional_embedding_type '{PositionalEmbeddingType}' is not supported: use standard or rotary");
        Require(KeyValueHeads > 0 && NHeads % KeyValueHeads == 0,
            $"n_heads {NHeads} is not a multiple of n_key_value_heads {KeyValueHeads}: each key/value head must serve a whole group of query heads");
        if (IsRotary)
        {
            int rd = EffectiveRotaryDim;
            Require(rd > 0 && rd <= DHead && rd % 2 == 0, $"rotary_dim {rd} must be even and between 2 and d_head {DHead}");
            Require(RotaryBase > 0 && float.IsFinite(RotaryBase), $"rotary_base {RotaryBase} must be positive");
            if (UseNtkByPartsRope)
                Require(NtkByPartsFactor > 0 && NtkByPartsLowFreqFactor > 0 && NtkByPartsHighFreqFactor > NtkByPartsLowFreqFactor && NtkOriginalCtxLen > 0,
                    $"llama3 rope scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0 (got {NtkByPartsFactor}, {NtkByPartsLowFreqFactor}, {NtkByPartsHighFreqFactor}, {NtkOriginalCtxLen})");
        }
        else Require(!UseNtkByPartsRope, "use_NTK_by_parts_rope needs positional_embedding_type rotary");
        if (UseLocalAttn)
        {
            Require(WindowSize is > 0, "use_local_attn needs a positive window_size");
            Require(AttnTypes is { } t && t.Count == NLayers && t.All(x => x is "global" or "local"),
                $"use_local_attn needs attn_types with one \"global\" or \"local\" per layer ({NLayers})");
        }
        Require(!(AttnOnly && (ParallelAttnMlp || GatedMlp)), "attn_only models have no MLP: parallel_attn_mlp and gated_mlp must be false");
    }
}
