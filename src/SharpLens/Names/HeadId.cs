using SharpLens.Model;

namespace SharpLens;

/// <summary>
/// An attention head: head <see cref="Head"/> of block <see cref="Layer"/> (<c>blocks.{Layer}.attn.hook_z[:, :, Head]</c>),
/// written <c>L7H11</c> everywhere SharpLens writes a head (JSON, figures, tables, study files). Input may also name it
/// <c>7.11</c>, <c>a7.h11</c> (EAP-IG) or <c>blocks.7.attn.hook_z[:, :, 11]</c> (TransformerLens); see <see cref="ComponentNames"/>.
/// </summary>
/// <param name="Layer">Block index, from 0.</param>
/// <param name="Head">Head index within the block, from 0.</param>
public readonly record struct HeadId(int Layer, int Head)
{
    /// <summary>The canonical name, e.g. <c>L7H11</c>.</summary>
    public override string ToString() => ComponentNames.Format(this);

    /// <summary>EAP-IG's node name of the head's output, e.g. <c>a7.h11</c> (circuit files and graph nodes).</summary>
    public string EapIgName => ComponentNames.FormatEapIg(this);

    /// <summary>Reads a head name in any accepted form (<see cref="ComponentNames"/>); one error message otherwise.</summary>
    public static HeadId Parse(string text) => ComponentNames.ParseHead(text);

    /// <summary>Reads a comma-separated list such as <c>L7H11,9.9</c>.</summary>
    public static List<HeadId> ParseList(string text) => ComponentNames.SplitList(text).Select(Parse).ToList();

    /// <summary>This head, when a model of <paramref name="config"/>'s shape has it; otherwise a one-line error naming
    /// the model's sizes.</summary>
    public HeadId RequireIn(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return RequireIn(config.NLayers, config.NHeads, config.ModelName);
    }

    /// <summary>This head, when <paramref name="nLayers"/> layers of <paramref name="nHeads"/> heads have it; otherwise a
    /// one-line error naming those sizes (and <paramref name="model"/> when given).</summary>
    public HeadId RequireIn(int nLayers, int nHeads, string? model = null)
    {
        ComponentNames.RequireInRange("head", ToString(), Layer, Head, nLayers, nHeads, "heads", model, (l, h) => new HeadId(l, h).ToString());
        return this;
    }
}
