using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Families.Gpt2;

/// <summary>GPT-2 (model_type "gpt2", GPT2LMHeadModel): <see cref="Gpt2Config"/> and <see cref="Gpt2WeightMap"/>.</summary>
internal sealed class Gpt2Family : ModelFamily
{
    /// <inheritdoc/>
    public override string ModelType => "gpt2";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Architectures => ["GPT2LMHeadModel"];
    /// <inheritdoc/>
    public override bool Matches(string architecture) => architecture.StartsWith("GPT2", StringComparison.Ordinal);

    /// <inheritdoc/>
    public override ModelConfig ReadConfig(HfConfig hf)
    {
        var gpt2 = Gpt2Config.Parse(hf.RawText, hf.Source);
        return new ModelConfig
        {
            NLayers = gpt2.NLayer, DModel = gpt2.NEmbd, NHeads = gpt2.NHead, DHead = gpt2.DHead, DMlp = gpt2.DMlp,
            DVocab = gpt2.VocabSize, NCtx = gpt2.NPositions, LayerNormEps = gpt2.LayerNormEpsilon, ActFn = gpt2.ActivationFunction,
            OriginalArchitecture = gpt2.Architectures[0],
            BosTokenId = gpt2.BosTokenId ?? (gpt2.VocabSize >= Gpt2Tokenizer.EndOfText + 1 ? Gpt2Tokenizer.EndOfText : gpt2.VocabSize - 1),
        };
    }

    /// <inheritdoc/>
    public override TransformerWeights ReadWeights(ModelConfig config, HfConfig hf, CheckpointTensors tensors)
    {
        var weights = Gpt2WeightMap.Convert(config, tensors.TakeUnchecked, tensors.Path, tensors.Warn);
        tensors.RequireAllUsed(n => Gpt2WeightMap.HarmlessExtras().IsMatch(n), "n_layer, n_embd, ...");
        return weights;
    }
}
