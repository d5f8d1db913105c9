using System.Globalization;
using System.Text;
using SharpLens.Neurons;

namespace SharpLens.Reports.Neurons;

/// <summary>
/// A neuron's page, like Neuroscope's: its top windows as text shaded by the neuron's activation (value on hover),
/// its statistics and histogram, and its direct logit effect (tokens its output weight most promotes and suppresses
/// through W_U). Offline HTML like every report.
/// </summary>
public static class NeuronPage
{
    /// <summary>The whole page. With <paramref name="assetsHref"/> null Plotly and the widgets are inlined (one self-contained
    /// file); otherwise they load from that folder (see <see cref="Assets.WriteTo"/>).</summary>
    public static string Render(NeuronRecord record, NeuronPageLinks? links = null, string? assetsHref = null) =>
        HtmlRenderer.Page($"Neuron {record.Id}", Body(record, links ?? NeuronPageLinks.SameFolder), assetsHref);

    /// <summary>The page body alone (for embedding in another page, e.g. the explorer); needs the assets loaded.</summary>
    public static string Body(NeuronRecord record, NeuronPageLinks links)
    {
        var p = record.Provenance;
        var id = record.Id;
        var sb = new StringBuilder();
        sb.Append($"<h1 id=\"neuron\">Neuron {Fmt.Html(id.ToString())}</h1>\n<p class=\"sl-sub\">");
        sb.Append($"<code>blocks.{id.Layer}.mlp.hook_post[{id.Neuron}]</code> · model <b>{Fmt.Html(p.ModelId)}</b>");
        if (links.Layer(id.Layer) is string layerHref) sb.Append($" · <a class=\"sl-layer-link\" href=\"{Fmt.Html(layerHref)}\">layer {id.Layer}</a>");
        sb.Append("</p>\n");
        sb.Append(ProvenanceLine(p));

        sb.Append("<h2 id=\"examples\">Top examples</h2>\n");
        if (record.TopExamples.Count == 0) sb.Append("<p>No examples: the index holds no windows for this neuron yet.</p>\n");
        else
        {
            double max = Math.Max(1e-6, record.TopExamples.Max(e => e.Activations.Count == 0 ? 0 : e.Activations.Max(a => Math.Abs(a))));
            var figure = new NeuronTextFigure([id.ToString()]) { Title = "", Min = -max, Max = max };
            foreach (var e in record.TopExamples)
            {
                var acts = new double[1, e.Tokens.Count];
                for (int t = 0; t < e.Tokens.Count; t++) acts[0, t] = e.Activations[t];
                figure.Add(new NeuronTextPrompt(e.Tokens, acts));
            }
            sb.Append("<p>Each line is one window (BOS first) of the corpus, shaded by this neuron's activation; hover a token for its value. Ranked by the window's max activation.</p>\n");
            sb.Append(HtmlRenderer.Fragment(figure, $"examples-{id}"));
            sb.Append(HtmlRenderer.Table(["#", "max activation", "document", "window", "position", "token at max"],
                record.TopExamples.Select(e => new[]
                {
                    (e.Rank - 1).ToString(CultureInfo.InvariantCulture), Fmt.Num(e.Activation), e.DocumentName,
                    e.WindowId.ToString(CultureInfo.InvariantCulture), e.Position.ToString(CultureInfo.InvariantCulture), Quote(e.Tokens[e.Position]),
                })));
        }

        var s = record.Statistics;
        sb.Append("<h2 id=\"statistics\">Statistics</h2>\n");
        sb.Append(HtmlRenderer.Table(["statistic", "value"], new[]
        {
            new[] { "tokens", s.Count.ToString(CultureInfo.InvariantCulture) },
            ["mean", Fmt.Num(s.Mean)], ["standard deviation", Fmt.Num(s.Std)], ["min", Fmt.Num(s.Min)], ["max", Fmt.Num(s.Max)],
            ["fraction positive", Fmt.Num(s.FractionPositive)],
        }.Concat(s.Quantiles.Select(q => new[] { q.Key + " (histogram estimate)", Fmt.Num(q.Value) }))));

        sb.Append("<h2 id=\"histogram\">Activation histogram</h2>\n");
        var (labels, counts) = NonEmptyBins(record.Histogram);
        if (labels.Count == 0) sb.Append("<p>No activations recorded.</p>\n");
        else
        {
            var histogram = new BarFigure(labels, counts) { Title = "", XTitle = "activation bin", YTitle = "tokens" };
            sb.Append(HtmlRenderer.Fragment(histogram, $"histogram-{id}"));
        }

        sb.Append("<h2 id=\"direct-effect\">Direct logit effect</h2>\n");
        sb.Append("<p>W_out[n] · W_U: how much one unit of this neuron's activation raises each token's logit directly (ignoring later layers and ln_final's scale).</p>\n");
        if (record.Promoted.Count + record.Suppressed.Count == 0) sb.Append("<p>Not recorded in this index.</p>\n");
        else
        {
            sb.Append("<div class=\"sl-logit-effects\">");
            sb.Append("<h3>Promotes</h3>").Append(EffectTable(record.Promoted, "sl-promoted"));
            sb.Append("<h3>Suppresses</h3>").Append(EffectTable(record.Suppressed, "sl-suppressed"));
            sb.Append("</div>\n");
        }
        return sb.ToString();
    }

    internal static string ProvenanceLine(IndexProvenance p) =>
        $"<p class=\"sl-sub sl-provenance\">index over {Fmt.Html(p.Corpus)}: {p.WindowsDone:N0} of {p.ShardWindows:N0} windows of {p.Context} tokens" +
        $"{(p.Complete ? "" : " (incomplete)")}, top {p.TopK} per neuron, shards {Fmt.Html(p.Shards)}, SharpLens {Fmt.Html(p.SharpLensVersion)}</p>\n";

    private static string EffectTable(IReadOnlyList<LogitEffect> effects, string cls) =>
        HtmlRenderer.Table(["token", "effect"], effects.Select(e => new[] { Quote(e.Token), Fmt.Num(e.Effect) }))
            .Replace("<table class=\"sl-table\">", $"<table class=\"sl-table {cls}\">");

    private static string Quote(string token) => "\u201c" + Fmt.Token(token) + "\u201d";

    /// <summary>The bins from the first to the last non-empty one, labelled by their ranges.</summary>
    private static (List<string> Labels, List<double> Counts) NonEmptyBins(ActivationHistogram h)
    {
        int first = -1, last = -1;
        for (int i = 0; i < h.Counts.Count; i++)
            if (h.Counts[i] > 0) { if (first < 0) first = i; last = i; }
        var labels = new List<string>();
        var counts = new List<double>();
        if (first < 0) return (labels, counts);
        for (int i = first; i <= last; i++)
        {
            labels.Add($"[{Edge(h.Edges[i])}, {Edge(h.Edges[i + 1])})");
            counts.Add(h.Counts[i]);
        }
        return (labels, counts);
    }

    private static string Edge(double e) => double.IsInfinity(e) ? (e > 0 ? "∞" : "-∞") : e.ToString("G3", CultureInfo.InvariantCulture);
}
