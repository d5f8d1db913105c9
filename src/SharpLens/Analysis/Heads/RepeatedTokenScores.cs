using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Heads;

/// <summary>
/// The attention scores of every head on repeated random tokens (<see cref="RepeatedTokens"/>), each a [layer, head]
/// grid of the mean attention over the scored queries, per sequence kept:
/// <list type="bullet">
/// <item><see cref="Induction"/>: the induction (prefix-matching) score of Olsson et al. and TransformerLens' demos:
/// attention from each position q of the second and later repeats to q − period + 1, the token that followed the
/// previous copy of q's token.</item>
/// <item><see cref="DuplicateToken"/>: attention from the same queries to q − period, the previous copy itself.</item>
/// <item><see cref="PreviousToken"/>: attention from every query q ≥ offset + 1 to q − 1 (queries whose previous token
/// is a random token, not BOS).</item>
/// </list>
/// TransformerLens' demo takes the induction stripe as <c>pattern.diagonal(offset=1-seq_len)</c>, which also holds the
/// last query of the first repeat (and, with a BOS, the one before it), where no copy exists yet; those queries are left
/// out here, so a perfect induction head scores 1.
/// </summary>
/// <param name="PreviousToken">[layer, head]</param>
/// <param name="DuplicateToken">[layer, head]</param>
/// <param name="Induction">[layer, head]</param>
public sealed record RepeatedTokenScores(Grid PreviousToken, Grid DuplicateToken, Grid Induction)
{
    /// <summary>Runs the model once on <paramref name="tokens"/> and reads every head's attention pattern.</summary>
    public static RepeatedTokenScores Compute(HookedTransformer model, RepeatedTokens tokens)
    {
        var cfg = model.Config;
        var batch = tokens.Tokens;
        if (batch.Pos > cfg.NCtx) throw new InvalidInputException($"repeated sequences of {batch.Pos} tokens do not fit the model's context of {cfg.NCtx}");
        foreach (int t in batch.Ids)
            if ((uint)t >= (uint)cfg.DVocab) throw new InvalidInputException($"token id {t} is outside the vocabulary (0-{cfg.DVocab - 1})");
        var (_, cache) = model.RunWithCache(batch, n => n.EndsWith("attn.hook_pattern", StringComparison.Ordinal), LogitsMode.None);
        int L = cfg.NLayers, H = cfg.NHeads, B = batch.Batch, P = batch.Pos, period = tokens.Period;
        var repeated = tokens.RepeatedPositions().ToArray();
        var previous = Enumerable.Range(tokens.Offset + 1, P - tokens.Offset - 1).ToArray();
        var prev = Tensor.Zeros(B, L, H);
        var dup = Tensor.Zeros(B, L, H);
        var induction = Tensor.Zeros(B, L, H);
        for (int l = 0; l < L; l++)
        {
            var pattern = cache[HookNames.Pattern(l)].Data;   // [batch, head, q, k]
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++)
                {
                    int at = (b * L + l) * H + h;
                    float Attention(int q, int k) => pattern[((b * H + h) * P + q) * P + k];
                    prev.Data[at] = (float)previous.Average(q => Attention(q, q - 1));
                    dup.Data[at] = (float)repeated.Average(q => Attention(q, q - period));
                    induction.Data[at] = (float)repeated.Average(q => Attention(q, q - period + 1));
                }
        }
        var layers = Enumerable.Range(0, L).Select(l => l.ToString()).ToList();
        var heads = Enumerable.Range(0, H).Select(h => h.ToString()).ToList();
        Grid Named(Tensor perSequence, string title)
        {
            var g = Grid.FromPerPrompt(perSequence, layers, heads);
            return new Grid(g.Values, layers, heads, perSequence) { Title = title, RowTitle = "layer", ColTitle = "head" };
        }
        return new RepeatedTokenScores(Named(prev, "Previous-token score (attention to q-1)"),
            Named(dup, "Duplicate-token score (attention to the earlier copy)"),
            Named(induction, "Induction score (attention to the token after the earlier copy)"));
    }
}
