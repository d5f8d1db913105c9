using System.Text.Json.Nodes;
using SharpLens.Analysis.Statistics;

namespace SharpLens.Circuits;

/// <summary>What a faithfulness number may be read as.</summary>
public enum FaithfulnessStatus
{
    /// <summary>A ratio with a meaningful denominator: the circuit has edges and the clean − corrupted gap is clear.</summary>
    Measured,
    /// <summary>The circuit has no edges (pruned to nothing): it is the corrupted run, nothing was measured.</summary>
    Empty,
    /// <summary>The clean − corrupted gap is not distinguishable from zero (<see cref="EffectGap.IsClear"/>): the ratio
    /// divides by noise and is not reported.</summary>
    Undecided,
}

/// <summary>A circuit's faithfulness: (metric with only the circuit clean − corrupted) / (clean − corrupted).</summary>
/// <param name="Edges">Edges in the circuit.</param>
/// <param name="Faithfulness">Point estimate, from means over prompts (only meaningful when <see cref="Status"/> is
/// <see cref="FaithfulnessStatus.Measured"/>).</param>
/// <param name="Interval">Bootstrap CI over prompts (prompts resampled jointly for the three runs).</param>
/// <param name="CircuitPerPrompt">Per-prompt metric of the circuit run [prompt].</param>
public sealed record FaithfulnessResult(int Edges, float Faithfulness, ConfidenceInterval Interval, float[] CircuitPerPrompt)
{
    /// <summary>Whether the number is a measurement, an empty circuit or undecided (the gap it divides by is noise).</summary>
    public FaithfulnessStatus Status { get; init; } = FaithfulnessStatus.Measured;
    /// <summary>True when <see cref="Faithfulness"/> and <see cref="Interval"/> may be reported.</summary>
    public bool IsMeasured => Status == FaithfulnessStatus.Measured;

    /// <summary><c>{"edges", "status": "measured"|"empty"|"undecided", "faithfulness", "ci_lower", "ci_upper"}</c>; the
    /// three numbers are null unless measured, so no ratio of noise and no empty circuit's 0 is ever read as a value.</summary>
    public JsonObject ToJson() => new()
    {
        ["edges"] = Edges, ["status"] = Status.ToString().ToLowerInvariant(),
        ["faithfulness"] = Reported(Faithfulness), ["ci_lower"] = Reported(Interval.Lower), ["ci_upper"] = Reported(Interval.Upper),
    };

    // Doubles, so that readers of the node (in memory or parsed) see the same kind of number.
    private double? Reported(float value) => IsMeasured && float.IsFinite(value) ? value : null;

    /// <summary>Reads <see cref="ToJson"/> (also the older form without "status", read as measured; no per-prompt values).</summary>
    /// <param name="node">the object.</param>
    /// <param name="where">the file and field, for messages.</param>
    public static FaithfulnessResult FromJson(JsonNode? node, string where)
    {
        if (node is not JsonObject o) throw new InvalidInputException($"{where} must be a faithfulness object, not {InputFiles.Describe(node)}");
        int edges = o["edges"] is JsonValue e && e.TryGetValue(out int n) && n >= 0 ? n : throw new InvalidInputException($"{where}.edges must be a circuit size, not {InputFiles.Describe(o["edges"])}");
        var status = o["status"] switch
        {
            null => FaithfulnessStatus.Measured,
            JsonValue v when v.TryGetValue(out string? text) && Enum.TryParse(text, ignoreCase: true, out FaithfulnessStatus parsed) => parsed,
            var other => throw new InvalidInputException($"{where}.status must be measured, empty or undecided, not {InputFiles.Describe(other)}"),
        };
        float Number(string key) => o[key] is JsonValue v && v.TryGetValue(out double d) && float.IsFinite((float)d) ? (float)d
            : throw new InvalidInputException($"{where}.{key} must be a number, not {InputFiles.Describe(o[key])}");
        if (status != FaithfulnessStatus.Measured)
            return new FaithfulnessResult(edges, float.NaN, new ConfidenceInterval(float.NaN, float.NaN, float.NaN, 0.95), []) { Status = status };
        float f = Number("faithfulness");
        return new FaithfulnessResult(edges, f, new ConfidenceInterval(f, Number("ci_lower"), Number("ci_upper"), 0.95), []);
    }
}

/// <summary>
/// The effect every faithfulness divides by: mean(clean) − mean(corrupted) metric, with the Student-t confidence
/// interval of that mean over the independent units of the prompts (<see cref="CircuitEvaluator.Units"/>).
/// </summary>
/// <param name="Estimate">mean(clean) − mean(corrupted).</param>
/// <param name="Interval">Its t interval (NaN bounds with fewer than two units: no spread can be estimated).</param>
/// <param name="Units">How many independent units it rests on.</param>
public sealed record EffectGap(float Estimate, ConfidenceInterval Interval, int Units)
{
    /// <summary>
    /// True when the gap's CI excludes zero. By Fieller's theorem a ratio's confidence set is bounded only when its
    /// denominator differs from zero at the interval's level (t²·SE²/gap² &lt; 1); otherwise every finite faithfulness
    /// interval would claim a precision the data do not have (on random weights: faithfulness −2 to 3.5 with CIs of ±10).
    /// The threshold is the interval's own level, no further constant; a t interval over units rather than a bootstrap
    /// keeps that level honest with the few units a study group has (4 swapped pairs), and with one unit nothing is clear.
    /// </summary>
    public bool IsClear => Interval.Lower > 0 || Interval.Upper < 0;

    /// <summary><c>{"estimate", "ci_lower", "ci_upper", "clear"}</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["estimate"] = (double)Estimate, ["ci_lower"] = Finite(Interval.Lower), ["ci_upper"] = Finite(Interval.Upper), ["units"] = Units, ["clear"] = IsClear,
    };

    private static double? Finite(float x) => float.IsFinite(x) ? x : null;
}
