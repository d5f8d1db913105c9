using System.Numerics;
using SharpLens.Model;

namespace SharpLens.Analysis.Weights;

/// <summary>
/// How much a head copies: the eigenvalue summary of its full OV circuit from "A Mathematical Framework for Transformer
/// Circuits". A copying head maps each token's embedding onto a higher logit of the same token, so the circuit's
/// eigenvalues are mostly positive.
/// </summary>
/// <param name="Layer">the head's layer</param>
/// <param name="Head">the head's index in its layer</param>
/// <param name="Score">Re(Σλ) / Σ|λ| in [-1, 1]: 1 for a pure copier, -1 for a pure anti-copier (the paper's
/// "positive eigenvalue" statistic, as ARENA computes it from <c>full_OV_circuit.eigenvalues</c>).</param>
/// <param name="PositiveFraction">the share of eigenvalues whose real part is positive (a coarser count).</param>
/// <param name="Eigenvalues">the d_head eigenvalues of the full OV circuit (those of its BA).</param>
public sealed record CopyingScore(int Layer, int Head, double Score, double PositiveFraction, Complex[] Eigenvalues)
{
    /// <summary>The copying score of head <paramref name="layer"/>.<paramref name="head"/> from its full OV circuit.</summary>
    public static CopyingScore Of(HookedTransformer model, int layer, int head) =>
        FromEigenvalues(layer, head, HeadCircuits.FullOV(model, layer, head).Eigenvalues);

    /// <summary>The statistics of a given eigenvalue set (e.g. of any <see cref="FactoredMatrix.Eigenvalues"/>).</summary>
    public static CopyingScore FromEigenvalues(int layer, int head, Complex[] eigenvalues)
    {
        Complex sum = Complex.Zero;
        double magnitude = 0;
        foreach (var e in eigenvalues) { sum += e; magnitude += e.Magnitude; }
        double score = magnitude == 0 ? 0 : sum.Real / magnitude;
        double positive = eigenvalues.Length == 0 ? 0 : eigenvalues.Count(e => e.Real > 0) / (double)eigenvalues.Length;
        return new CopyingScore(layer, head, score, positive, eigenvalues);
    }
}
