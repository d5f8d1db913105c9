using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Weights;

/// <summary>Which input of the later head the earlier head's output feeds.</summary>
public enum CompositionKind
{
    /// <summary>Q-composition: OV_left · QK_right (the earlier head shapes what the later head looks for).</summary>
    Q,
    /// <summary>K-composition: OV_left · QK_rightᵀ (the earlier head shapes what the later head is found by).</summary>
    K,
    /// <summary>V-composition: OV_left · OV_right (the earlier head's output is moved on by the later head).</summary>
    V,
}

/// <summary>
/// Composition scores of "A Mathematical Framework for Transformer Circuits", as TransformerLens'
/// <c>utils.composition_scores</c> and <c>HookedTransformer.all_composition_scores</c>:
/// ‖L·R‖_F / (‖L‖_F·‖R‖_F) with L the earlier head's OV circuit and R the later head's QK (Q), QKᵀ (K) or OV (V)
/// circuit, all [d_model, d_model]. A score is in [0, 1]. The paper reads scores against those of random matrices of the
/// same shapes; no such baseline is subtracted here.
/// </summary>
public static class CompositionScores
{
    /// <summary>The score of one pair, computed from the factored circuits.</summary>
    /// <param name="model">the model</param>
    /// <param name="left">the writing (earlier) head (layer, head)</param>
    /// <param name="right">the reading (later) head (layer, head)</param>
    /// <param name="kind">which input of the later head</param>
    public static double Between(HookedTransformer model, (int Layer, int Head) left, (int Layer, int Head) right, CompositionKind kind)
    {
        var l = HeadCircuits.OV(model, left.Layer, left.Head);
        var r = RightCircuit(model, right.Layer, right.Head, kind);
        return Score(l, r);
    }

    /// <summary>‖L·R‖_F / (‖L‖_F·‖R‖_F) for any two factored matrices with L.rdim = R.ldim (TransformerLens'
    /// <c>composition_scores</c>).</summary>
    public static double Score(FactoredMatrix left, FactoredMatrix right)
    {
        if (left.RDim != right.LDim) throw new ShapeMismatchException($"cannot compose a {left.LDim}x{left.RDim} circuit with a {right.LDim}x{right.RDim} one");
        // The orthonormal outer factors drop out of every norm: ‖L·R‖ = ‖L̃·R̃‖ with the d_head-wide compressions.
        var l = left.CompressedLeft();
        var r = right.CompressedRight();
        double ln = SmallLinearAlgebra.FrobeniusNorm(l), rn = SmallLinearAlgebra.FrobeniusNorm(r);
        if (ln == 0 || rn == 0) return 0;
        return SmallLinearAlgebra.FrobeniusNorm(l * r) / ln / rn;
    }

    /// <summary>
    /// Every pair's score [left layer, left head, right layer, right head] (TransformerLens'
    /// <c>all_composition_scores(mode)</c>); pairs whose right head is not in a strictly later layer are 0, as there.
    /// Each head's circuits are compressed once (one thin QR) to d_head-wide factors whose products have the circuits'
    /// norms, and each (left layer, right layer) block of products is one float GEMM.
    /// </summary>
    public static CompositionScoreGrid All(HookedTransformer model, CompositionKind kind)
    {
        var cfg = model.Config;
        int layers = cfg.NLayers, heads = cfg.NHeads, d = cfg.DModel;
        // left[l][h] = collapse_l(OV) [k, d]; right[l][h] = collapse_r(R) [d, k]; their norms are the circuits' norms.
        var lefts = new float[layers][];
        var rights = new float[layers][];
        var leftNorm = new double[layers, heads];
        var rightNorm = new double[layers, heads];
        int k = cfg.DHead;
        Parallel.For(0, layers, l =>
        {
            lefts[l] = new float[heads * k * d];
            rights[l] = new float[d * heads * k];
            for (int h = 0; h < heads; h++)
            {
                // Compressed factors (k ≤ d_head rows/cols; zero-padded to d_head) keep every norm the score uses.
                var cl = HeadCircuits.OV(model, l, h).CompressedLeft();
                var cr = RightCircuit(model, l, h, kind).CompressedRight();
                leftNorm[l, h] = SmallLinearAlgebra.FrobeniusNorm(cl);
                rightNorm[l, h] = SmallLinearAlgebra.FrobeniusNorm(cr);
                for (int i = 0; i < cl.Rows; i++)
                    for (int j = 0; j < d; j++) lefts[l][(h * k + i) * d + j] = (float)cl[i, j];
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < cr.Cols; j++) rights[l][i * heads * k + h * k + j] = (float)cr[i, j];
            }
        });
        var scores = new double[layers, heads, layers, heads];
        var block = new float[heads * k * heads * k];
        for (int ll = 0; ll < layers; ll++)
            for (int rl = ll + 1; rl < layers; rl++)
            {
                Gemm.Multiply(lefts[ll], rights[rl], block, heads * k, d, heads * k);
                for (int lh = 0; lh < heads; lh++)
                    for (int rh = 0; rh < heads; rh++)
                    {
                        double sum = 0;
                        for (int i = 0; i < k; i++)
                        {
                            var row = block.AsSpan((lh * k + i) * heads * k + rh * k, k);
                            foreach (float v in row) sum += (double)v * v;
                        }
                        double denominator = leftNorm[ll, lh] * rightNorm[rl, rh];
                        scores[ll, lh, rl, rh] = denominator == 0 ? 0 : Math.Sqrt(sum) / denominator;
                    }
            }
        return new CompositionScoreGrid(kind, scores);
    }

    /// <summary>The later head's circuit for a kind: QK, QKᵀ or OV.</summary>
    internal static FactoredMatrix RightCircuit(HookedTransformer model, int layer, int head, CompositionKind kind) => kind switch
    {
        CompositionKind.Q => HeadCircuits.QK(model, layer, head),
        CompositionKind.K => HeadCircuits.QK(model, layer, head).T,
        CompositionKind.V => HeadCircuits.OV(model, layer, head),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown composition kind"),
    };
}

/// <summary>All composition scores of one kind, labelled by head.</summary>
/// <param name="Kind">Q, K or V composition</param>
/// <param name="Scores">[left layer, left head, right layer, right head]; 0 unless the right layer is later</param>
public sealed record CompositionScoreGrid(CompositionKind Kind, double[,,,] Scores)
{
    /// <summary>The score of earlier head <paramref name="left"/> into later head <paramref name="right"/>.</summary>
    public double this[(int Layer, int Head) left, (int Layer, int Head) right] => Scores[left.Layer, left.Head, right.Layer, right.Head];

    /// <summary>Heads that write into <paramref name="receiver"/>, highest score first.</summary>
    public IReadOnlyList<(int Layer, int Head, double Score)> Senders((int Layer, int Head) receiver, int top) =>
        Enumerable.Range(0, receiver.Layer).SelectMany(l => Enumerable.Range(0, Scores.GetLength(1)).Select(h => (l, h, Scores[l, h, receiver.Layer, receiver.Head])))
            .OrderByDescending(x => x.Item3).Take(top).ToList();

    /// <summary>Later heads that read from <paramref name="sender"/>, highest score first.</summary>
    public IReadOnlyList<(int Layer, int Head, double Score)> Receivers((int Layer, int Head) sender, int top) =>
        Enumerable.Range(sender.Layer + 1, Scores.GetLength(2) - sender.Layer - 1)
            .SelectMany(l => Enumerable.Range(0, Scores.GetLength(3)).Select(h => (l, h, Scores[sender.Layer, sender.Head, l, h])))
            .OrderByDescending(x => x.Item3).Take(top).ToList();
}

/// <summary>One head's composition partners of one kind: every earlier head writing into it and every later head
/// reading from it.</summary>
/// <param name="Kind">Q, K or V composition</param>
/// <param name="Senders">(layer, head, score) of each earlier head into this one's input, highest first</param>
/// <param name="Receivers">(layer, head, score) of each later head reading this one's output, highest first</param>
public sealed record HeadComposition(CompositionKind Kind, IReadOnlyList<(int Layer, int Head, double Score)> Senders,
    IReadOnlyList<(int Layer, int Head, double Score)> Receivers)
{
    /// <summary>The scores around <paramref name="head"/> for each kind, computing only the pairs that involve it.</summary>
    public static IReadOnlyList<HeadComposition> For(HookedTransformer model, (int Layer, int Head) head, params CompositionKind[] kinds)
    {
        WeightMatrices.RequireHead(model, head.Layer, head.Head);
        var cfg = model.Config;
        var ovLeft = new Dictionary<(int, int), DoubleMatrix>();
        DoubleMatrix OvLeft(int l, int h) => ovLeft.TryGetValue((l, h), out var m) ? m : ovLeft[(l, h)] = HeadCircuits.OV(model, l, h).CompressedLeft();
        var result = new List<HeadComposition>();
        foreach (var kind in kinds)
        {
            var right = CompositionScores.RightCircuit(model, head.Layer, head.Head, kind).CompressedRight();
            var senders = new List<(int, int, double)>();
            for (int l = 0; l < head.Layer; l++)
                for (int h = 0; h < cfg.NHeads; h++) senders.Add((l, h, Ratio(OvLeft(l, h), right)));
            var mine = OvLeft(head.Layer, head.Head);
            var receivers = new List<(int, int, double)>();
            for (int l = head.Layer + 1; l < cfg.NLayers; l++)
                for (int h = 0; h < cfg.NHeads; h++)
                    receivers.Add((l, h, Ratio(mine, CompositionScores.RightCircuit(model, l, h, kind).CompressedRight())));
            result.Add(new HeadComposition(kind, senders.OrderByDescending(s => s.Item3).ToList(), receivers.OrderByDescending(s => s.Item3).ToList()));
        }
        return result;
    }

    private static double Ratio(DoubleMatrix left, DoubleMatrix right)
    {
        double ln = SmallLinearAlgebra.FrobeniusNorm(left), rn = SmallLinearAlgebra.FrobeniusNorm(right);
        return ln == 0 || rn == 0 ? 0 : SmallLinearAlgebra.FrobeniusNorm(left * right) / ln / rn;
    }
}
