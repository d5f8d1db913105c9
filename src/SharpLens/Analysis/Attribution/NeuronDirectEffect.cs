using SharpLens.Model;

namespace SharpLens.Analysis.Attribution;

/// <summary>
/// A neuron's direct effect on a logit difference: what one unit of its activation (mlp.hook_post) adds to
/// logit(correct) - logit(wrong) through W_out and W_U alone, ignoring ln_final's scale and every later layer
/// (as TransformerLens' <c>W_out[layer, neuron] @ (W_U[:, correct] - W_U[:, wrong])</c>).
/// </summary>
public static class NeuronDirectEffect
{
    /// <summary>W_out[<paramref name="layer"/>, <paramref name="neuron"/>, :] · (W_U[:, correct] - W_U[:, wrong]).</summary>
    public static double OnLogitDiff(HookedTransformer model, int layer, int neuron, int correct, int wrong)
    {
        var cfg = model.Config;
        if (layer < 0 || layer >= cfg.NLayers) throw new InvalidInputException($"layer {layer} does not exist: the model has layers 0..{cfg.NLayers - 1}");
        if (neuron < 0 || neuron >= cfg.DMlp) throw new InvalidInputException($"neuron {neuron} does not exist: the model has neurons 0..{cfg.DMlp - 1}");
        foreach (int t in new[] { correct, wrong })
            if (t < 0 || t >= cfg.DVocab) throw new InvalidInputException($"token id {t} is outside the vocabulary (0..{cfg.DVocab - 1})");
        int d = cfg.DModel, vocab = cfg.DVocab;
        var wOut = model.Weights.Blocks[layer].W_out.Data.AsSpan(neuron * d, d);
        var wU = model.Weights.W_U.Data;
        double direct = 0;
        for (int i = 0; i < d; i++) direct += wOut[i] * ((double)wU[i * vocab + correct] - wU[i * vocab + wrong]);
        return direct;
    }
}
