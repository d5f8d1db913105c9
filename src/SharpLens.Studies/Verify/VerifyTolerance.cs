namespace SharpLens.Studies.Verify;

/// <summary>
/// How close a value must be to the reference: <c>|ours - reference| &lt;= Atol + Rtol · max|reference|</c>, where the
/// maximum runs over the whole figure (or printed list), so every figure is judged on its own scale.
/// </summary>
/// <param name="Atol">Absolute part, in the figure's units (logits, normalized patching score, activation).</param>
/// <param name="Rtol">Relative part, a fraction of the figure's largest |reference| value.</param>
/// <param name="Reason">Why this tolerance differs from the default (null for the default).</param>
public sealed record VerifyTolerance(double Atol, double Rtol, string? Reason = null)
{
    /// <summary>
    /// The default for every figure and printed number: the notebook ran GPT-2 small in float32 on a GPU; a float32 CPU
    /// run differs from it by about 1e-4 in logits and at most about 1e-3 in normalized patching scores.
    /// </summary>
    public static readonly VerifyTolerance Default = new(1e-3, 1e-3);

    /// <summary>Token ids, ranks and labels: must match exactly.</summary>
    public static readonly VerifyTolerance Exact = new(0, 0, "integers (token ids, ranks) must match exactly");

    /// <summary>
    /// test_prompt's printout: logits and probabilities (in percent) are printed with two decimals, so the reference
    /// itself is only known to ±0.005; the default 1e-3 is added on top.
    /// </summary>
    public static readonly VerifyTolerance TwoDecimals = new(0.006, 0, "test_prompt prints logits and percentages with two decimals (±0.005)");

    /// <summary>The largest deviation allowed in a figure whose largest |reference| value is <paramref name="scale"/>.</summary>
    public double Allowed(double scale) => Atol + Rtol * scale;

    /// <summary>"atol 0.001 + rtol 0.001 · max|ref|".</summary>
    public override string ToString() => Rtol == 0 ? $"atol {Findings.F6(Atol)}" : $"atol {Findings.F6(Atol)} + rtol {Findings.F6(Rtol)}·max|ref|";
}
