namespace SharpLens.Neurons.Indexing;

/// <summary>
/// One window the model reads: BOS followed by up to context-1 consecutive tokens of one document, as Neuroscope did.
/// Window ids number the windows of the whole corpus in order, so shards, resumed runs and merges agree on them.
/// </summary>
/// <param name="Id">Corpus-wide 0-based window number.</param>
/// <param name="Document">Index of the document it comes from.</param>
/// <param name="Start">Offset of <c>Tokens[1]</c> within the document's tokens.</param>
/// <param name="Tokens">[pos] BOS then the document's tokens.</param>
public sealed record TokenWindow(long Id, int Document, int Start, int[] Tokens)
{
    /// <summary>Splits a document's tokens (no BOS) into windows of at most <paramref name="context"/> tokens, each starting with BOS;
    /// the last window of a document is shorter (a document end).</summary>
    /// <param name="tokens">[n] the document's tokens without BOS.</param>
    /// <param name="document">Index of the document, recorded in each window.</param>
    /// <param name="firstId">Id of the first window; the others count up from it.</param>
    /// <param name="context">Longest window, BOS included (the model's context length or less).</param>
    /// <param name="bos">The BOS token id put first in every window.</param>
    public static IEnumerable<TokenWindow> Split(int[] tokens, int document, long firstId, int context, int bos)
    {
        int chunk = context - 1;
        long id = firstId;
        for (int start = 0; start < tokens.Length; start += chunk)
        {
            int n = Math.Min(chunk, tokens.Length - start);
            var window = new int[n + 1];
            window[0] = bos;
            Array.Copy(tokens, start, window, 1, n);
            yield return new TokenWindow(id++, document, start, window);
        }
    }

    /// <summary>How many windows <see cref="Split"/> makes of <paramref name="tokenCount"/> tokens.</summary>
    public static int Count(int tokenCount, int context) => (tokenCount + context - 2) / (context - 1);
}
