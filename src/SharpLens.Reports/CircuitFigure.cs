using System.Globalization;
using System.Text;
using SharpLens.Circuits;

namespace SharpLens.Reports;

/// <summary>
/// A circuit drawn as a graph: layers as rows (input at the top, logits at the bottom), heads and the MLP as columns;
/// each edge a curve from its parent to its child (into the q, k or v port of a head), width and colour by score
/// (blue positive, red negative, as the heatmaps). Rendered by <see cref="CircuitSvg"/> as standalone SVG (a
/// &lt;title&gt; per edge gives the score on hover in any viewer) and as inline SVG with a hover panel in HTML.
/// </summary>
public sealed class CircuitFigure : Figure
{
    /// <inheritdoc/>
    public override string Kind => "circuit";
    /// <summary>The graph the circuit lives in.</summary>
    public CircuitGraph Graph { get; }
    /// <summary>The circuit's edges with their scores (NaN when the circuit has no scores).</summary>
    public IReadOnlyList<(Edge Edge, float Score)> Edges { get; }
    /// <summary>Names of the nodes in the circuit.</summary>
    public IReadOnlySet<string> Nodes { get; }

    /// <summary>The figure of <paramref name="circuit"/>.</summary>
    public CircuitFigure(Circuit circuit, string title)
    {
        Graph = circuit.Graph;
        Title = title;
        Nodes = circuit.Nodes;
        Edges = circuit.Edges.Select(e => (e, circuit.Scores is null ? float.NaN : circuit.Scores[e]))
            .OrderBy(p => float.IsNaN(p.Item2) ? 0 : MathF.Abs(p.Item2)).ToList();
    }
}

/// <summary>Draws a <see cref="CircuitFigure"/> as SVG (no dependencies, works offline).</summary>
internal static class CircuitSvg
{
    private const int Dx = 74, Dy = 78, NodeW = 56, NodeH = 24, Margin = 60;

    /// <summary>Width and height in pixels.</summary>
    public static (int W, int H) Size(CircuitFigure f) =>
        (Math.Max(720, 2 * Margin + (f.Graph.NHeads + 1) * Dx), 2 * Margin + 40 + (f.Graph.NLayers + 1) * Dy);

    /// <summary>A standalone SVG document.</summary>
    public static string Document(CircuitFigure f) =>
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Svg(f, id: null);

    /// <summary>The SVG element; with <paramref name="id"/> its edges carry data attributes for the HTML hover panel.</summary>
    public static string Svg(CircuitFigure f, string? id)
    {
        var (w, h) = Size(f);
        var sb = new StringBuilder();
        sb.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\""));
        if (id is not null) sb.Append($" id=\"{Fmt.Html(id)}-svg\"");
        sb.Append(">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.Append(Inv($"<text x=\"{Margin}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{Fmt.Html(f.Title)}</text>\n"));
        float max = f.Edges.Count == 0 ? 1f : f.Edges.Max(e => float.IsNaN(e.Score) ? 0f : MathF.Abs(e.Score));
        if (max == 0) max = 1f;
        sb.Append(Inv($"<text x=\"{Margin}\" y=\"48\" font-size=\"11\" fill=\"#555\">{f.Edges.Count} edges, {f.Nodes.Count} nodes; width and colour by score (blue +, red −), max |score| {max.ToString("G4", CultureInfo.InvariantCulture)}</text>\n"));

        // Row labels and faint placeholders for every node, so positions read as a grid.
        for (int row = 0; row <= f.Graph.NLayers + 1; row++)
        {
            string label = row == 0 ? "input" : row == f.Graph.NLayers + 1 ? "logits" : $"L{row - 1}";
            sb.Append(Inv($"<text x=\"{Margin - 10}\" y=\"{Y(row) + 4}\" font-size=\"11\" text-anchor=\"end\" fill=\"#777\">{label}</text>\n"));
        }
        foreach (var (edge, score) in f.Edges)
        {
            var (x0, y0) = Position(f.Graph, edge.Parent.Name);
            var (x1, y1) = Position(f.Graph, edge.Child.Name);
            if (edge.Child.Input is { } c) x1 += ((int)c - 1) * NodeW / 3;   // q, k, v ports left to right
            y0 += NodeH / 2; y1 -= NodeH / 2;
            double t = float.IsNaN(score) ? 0.5 : MathF.Abs(score) / max;
            double width = 0.6 + 5.4 * t;
            string colour = float.IsNaN(score) ? "#555" : score >= 0 ? Blend(t, "#2166ac") : Blend(t, "#b2182b");
            double bend = Math.Max(20, (y1 - y0) * 0.45);
            string text = $"{edge.Name}: {(float.IsNaN(score) ? "no score" : score.ToString("G4", CultureInfo.InvariantCulture))}";
            sb.Append(Inv($"<path class=\"sl-edge\" d=\"M{x0},{y0} C{x0},{y0 + bend} {x1},{y1 - bend} {x1},{y1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width:0.##}\" stroke-opacity=\"0.75\""));
            if (id is not null) sb.Append($" data-edge=\"{Fmt.Html(edge.Name)}\" data-score=\"{(float.IsNaN(score) ? "" : score.ToString("G6", CultureInfo.InvariantCulture))}\"");
            sb.Append($"><title>{Fmt.Html(text)}</title></path>\n");
        }
        // Nodes last, opaque, so edges run behind them.
        foreach (var name in f.Graph.NodeNames)
        {
            var (x, y) = Position(f.Graph, name);
            bool inCircuit = f.Nodes.Contains(name);
            sb.Append(Inv($"<g class=\"sl-node\" data-node=\"{name}\"><rect x=\"{x - NodeW / 2}\" y=\"{y - NodeH / 2}\" width=\"{NodeW}\" height=\"{NodeH}\" rx=\"5\" ")
                + (inCircuit ? "fill=\"#f4f4f4\" stroke=\"#333\" stroke-width=\"1.2\"/>" : "fill=\"white\" stroke=\"#ddd\" stroke-width=\"0.8\"/>"));
            if (inCircuit) sb.Append(Inv($"<text x=\"{x}\" y=\"{y + 4}\" font-size=\"10\" text-anchor=\"middle\">{name}</text>"));
            sb.Append("<title>").Append(name).Append("</title></g>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>HTML fragment: the inline SVG, a hover panel and the script that fills it.</summary>
    public static string Fragment(CircuitFigure f, string id)
    {
        string eid = Fmt.Html(id);
        var sb = new StringBuilder();
        sb.Append($"<div class=\"sl-circuit\" id=\"{eid}\" data-kind=\"circuit\">");
        sb.Append($"<div class=\"sl-circuit-info\" id=\"{eid}-info\" style=\"min-height:1.4em;font-family:monospace\">hover an edge for its score</div>");
        sb.Append(Svg(f, id));
        sb.Append("</div>\n<script>(function(){var root=document.getElementById(")
          .Append(System.Text.Json.JsonSerializer.Serialize(id))
          .Append(");var info=document.getElementById(").Append(System.Text.Json.JsonSerializer.Serialize(id + "-info"))
          .Append(");root.querySelectorAll('.sl-edge').forEach(function(p){p.addEventListener('mouseenter',function(){")
          .Append("info.textContent=p.dataset.edge+'  score '+(p.dataset.score||'n/a');p.setAttribute('stroke-opacity','1');p.dataset.w=p.getAttribute('stroke-width');")
          .Append("p.setAttribute('stroke-width',Math.max(3,parseFloat(p.dataset.w)*1.6));});p.addEventListener('mouseleave',function(){")
          .Append("p.setAttribute('stroke-opacity','0.75');p.setAttribute('stroke-width',p.dataset.w);});});})();</script>\n");
        return sb.ToString();
    }

    /// <summary>Centre of a node: row 0 input, rows 1..L layers, row L+1 logits; column = head, MLP last.</summary>
    internal static (double X, double Y) Position(CircuitGraph g, string name)
    {
        if (name == "input" || name == "logits")
            return (Margin + g.NHeads * Dx / 2.0, Y(name == "input" ? 0 : g.NLayers + 1));
        var node = g.RequireUpstream(name);
        return (Margin + (node.IsMlp ? g.NHeads : node.Head) * Dx + NodeW / 2.0, Y(node.Layer + 1));
    }

    private static double Y(int row) => Margin + 40 + row * Dy;

    // Light-to-full interpolation from grey-white to the colour, so weak edges fade out.
    private static string Blend(double t, string hex)
    {
        int r = Convert.ToInt32(hex[1..3], 16), g = Convert.ToInt32(hex[3..5], 16), b = Convert.ToInt32(hex[5..7], 16);
        double a = 0.25 + 0.75 * t;
        int Mix(int c) => (int)Math.Round(220 + (c - 220) * a);
        return $"#{Mix(r):x2}{Mix(g):x2}{Mix(b):x2}";
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
