using System.Text;

namespace SharpLens.Corpora;

/// <summary>
/// Turns a Brown corpus file (form C: whitespace-separated word/tag tokens, one sentence per line, paragraphs
/// separated by blank lines) back into running text: tags dropped, `` and '' become double quotes, no space
/// before closing punctuation, paragraphs separated by a blank line.
/// </summary>
internal static class BrownText
{
    private static readonly HashSet<string> NoSpaceBefore = [".", ",", ";", ":", "?", "!", ")", "]", "''", "'", "'s", "n't"];

    public static string Detag(string raw)
    {
        var text = new StringBuilder(raw.Length / 2);
        foreach (var paragraph in raw.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var words = paragraph.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(Word).ToList();
            if (words.Count == 0) continue;
            if (text.Length > 0) text.Append("\n\n");
            bool afterOpen = true;
            foreach (var w in words)
            {
                if (!afterOpen && !NoSpaceBefore.Contains(w)) text.Append(' ');
                text.Append(w switch { "``" or "''" => "\"", _ => w });
                afterOpen = w is "``" or "(" or "[";
            }
        }
        return text.ToString();
    }

    private static string Word(string token)
    {
        int slash = token.LastIndexOf('/');
        return slash > 0 ? token[..slash] : token;
    }
}
