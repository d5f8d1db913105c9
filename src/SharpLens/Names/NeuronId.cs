using SharpLens.Model;

namespace SharpLens;

/// <summary>
/// An MLP neuron: <c>blocks.{Layer}.mlp.hook_post[..., Neuron]</c>, written <c>L8N2744</c> as in Neuroscope, everywhere
/// SharpLens writes a neuron. Input may also name it <c>8.2744</c> or <c>blocks.8.mlp.hook_post[:, :, 2744]</c>
/// (TransformerLens); see <see cref="ComponentNames"/>.
/// </summary>
/// <param name="Layer">Block index, from 0.</param>
/// <param name="Neuron">Index into d_mlp, from 0.</param>
public readonly record struct NeuronId(int Layer, int Neuron)
{
    /// <summary>The canonical name, e.g. <c>L8N2744</c>.</summary>
    public override string ToString() => ComponentNames.Format(this);

    /// <summary>Reads a neuron name in any accepted form (<see cref="ComponentNames"/>); one error message otherwise.</summary>
    public static NeuronId Parse(string text) => ComponentNames.ParseNeuron(text);

    /// <summary>Reads a comma-separated list such as <c>L8N2744,L10N1063</c>.</summary>
    public static List<NeuronId> ParseList(string text) => ComponentNames.SplitList(text).Select(Parse).ToList();

    /// <summary>This neuron, when a model of <paramref name="config"/>'s shape has it; otherwise a one-line error naming
    /// the model's sizes.</summary>
    public NeuronId RequireIn(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return RequireIn(config.NLayers, config.DMlp, config.ModelName);
    }

    /// <summary>This neuron, when <paramref name="nLayers"/> MLP layers of <paramref name="dMlp"/> neurons have it;
    /// otherwise a one-line error naming those sizes (and <paramref name="model"/> when given).</summary>
    public NeuronId RequireIn(int nLayers, int dMlp, string? model = null)
    {
        ComponentNames.RequireInRange("neuron", ToString(), Layer, Neuron, nLayers, dMlp, "neurons", model, (l, n) => new NeuronId(l, n).ToString());
        return this;
    }
}
