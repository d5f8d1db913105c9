namespace SharpLens.Neurons;

/// <summary>An MLP neuron: <c>blocks.{Layer}.mlp.hook_post[..., Neuron]</c>, written L8N2744 as in Neuroscope.</summary>
/// <param name="Layer">Block index.</param>
/// <param name="Neuron">Index into d_mlp.</param>
public readonly record struct NeuronId(int Layer, int Neuron)
{
    /// <summary>"L8N2744".</summary>
    public override string ToString() => $"L{Layer}N{Neuron}";

    /// <summary>Parses "L8N2744" (also "8.2744" and lower case); a clear error otherwise.</summary>
    public static NeuronId Parse(string text)
    {
        var s = text.Trim();
        var parts = s.TrimStart('L', 'l').Split('N', 'n', '.');
        return parts.Length == 2 && int.TryParse(parts[0], out int l) && int.TryParse(parts[1], out int n) && l >= 0 && n >= 0
            ? new NeuronId(l, n)
            : throw new InvalidInputException($"'{text}' is not a neuron: write L8N2744 (layer 8, neuron 2744)");
    }

    /// <summary>Parses a comma-separated list such as "L8N2744,L10N1063".</summary>
    public static List<NeuronId> ParseList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Parse).ToList();
}
