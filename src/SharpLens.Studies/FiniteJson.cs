using System.Text.Json.Nodes;

namespace SharpLens.Studies;

/// <summary>
/// Numbers on their way into results.json: a NaN or infinity is an error naming what produced it, never a silent 0
/// (a hidden NaN would pass for a real result and later for a verified one).
/// </summary>
internal static class FiniteJson
{
    /// <summary>The values rounded to 6 decimals; throws <see cref="SharpLensException"/> naming <paramref name="what"/> at the first non-finite one.</summary>
    public static JsonArray Array(IEnumerable<float> values, string what)
    {
        var list = new JsonArray();
        int i = 0;
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
                throw new SharpLensException($"{what}: value {i} is {v}: the model produced a non-finite number (check the weights, e.g. with `sharplens predict`); nothing was saved for this analysis");
            list.Add(JsonValue.Create(MathF.Round(v, 6)));
            i++;
        }
        return list;
    }

    /// <summary>
    /// The path of the first non-finite number in <paramref name="node"/>, or null. Grids store them as the strings
    /// "NaN", "Infinity" under "values" and "per_prompt"; strings elsewhere (tokens) are text.
    /// </summary>
    public static string? FirstNonFinite(JsonNode? node, string path = "", bool inGrid = false)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    if (FirstNonFinite(v, path.Length == 0 ? k : $"{path}/{k}", k is "values" or "per_prompt") is string p) return p;
                return null;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) if (FirstNonFinite(a[i], $"{path}[{i}]", inGrid) is string p) return p;
                return null;
            case JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String:
                return inGrid && v.ToString() is "NaN" or "Infinity" or "-Infinity" ? path : null;
            case JsonValue v when v.TryGetValue(out double d):
                return double.IsFinite(d) ? null : path;
            default:
                return null;
        }
    }
}
