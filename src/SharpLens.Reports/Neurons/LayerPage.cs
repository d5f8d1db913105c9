using System.Text;
using SharpLens.Neurons;

namespace SharpLens.Reports.Neurons;

/// <summary>A layer's page: every neuron of the layer by max activation, with mean, spread and the token it peaks on.</summary>
internal static class LayerPage
{
    /// <summary>The whole page (assets as in <see cref="NeuronPage.Render"/>).</summary>
    public static string Render(IndexProvenance provenance, int layer, IReadOnlyList<NeuronSummary> neurons, NeuronPageLinks? links = null, string? assetsHref = null) =>
        HtmlRenderer.Page($"Layer {layer} neurons", Body(provenance, layer, neurons, links ?? NeuronPageLinks.SameFolder), assetsHref);

    /// <summary>The page body alone.</summary>
    public static string Body(IndexProvenance provenance, int layer, IReadOnlyList<NeuronSummary> neurons, NeuronPageLinks links)
    {
        var sb = new StringBuilder();
        sb.Append($"<h1 id=\"layer\">Layer {layer} neurons</h1>\n<p class=\"sl-sub\">model <b>{Fmt.Html(provenance.ModelId)}</b> · {neurons.Count} neurons, highest max activation first</p>\n");
        sb.Append(NeuronPage.ProvenanceLine(provenance));
        sb.Append("<table class=\"sl-table sl-layer\"><thead><tr><th>#</th><th>neuron</th><th>max</th><th>mean</th><th>std</th><th>fraction positive</th><th>peaks on</th></tr></thead><tbody>\n");
        for (int i = 0; i < neurons.Count; i++)
        {
            var n = neurons[i];
            var id = new NeuronId(layer, n.Neuron);
            string name = Fmt.Html(id.ToString());
            string cell = links.Neuron(id) is string href ? $"<a href=\"{Fmt.Html(href)}\">{name}</a>" : name;
            sb.Append($"<tr><td class=\"num\">{i + 1}</td><td>{cell}</td><td class=\"num\">{Fmt.Num(n.Max)}</td><td class=\"num\">{Fmt.Num(n.Mean)}</td>")
              .Append($"<td class=\"num\">{Fmt.Num(n.Std)}</td><td class=\"num\">{Fmt.Num(n.FractionPositive)}</td>")
              .Append($"<td class=\"sl-mono\">{(n.TopToken is null ? "" : Fmt.Html("\u201c" + Fmt.Token(n.TopToken) + "\u201d"))}</td></tr>\n");
        }
        sb.Append("</tbody></table>\n");
        return sb.ToString();
    }
}
