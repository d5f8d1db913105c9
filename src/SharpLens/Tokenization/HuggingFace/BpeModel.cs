using System.Collections.Concurrent;
using System.Text;

namespace SharpLens.Tokenization.HuggingFace;

/// <summary>The settings of a tokenizer.json BPE model besides its vocabulary and merges.</summary>
/// <param name="UnkToken">The unknown token, or null (unknown characters are then dropped, as Hugging Face does).</param>
/// <param name="FuseUnk">Consecutive unknown characters become one unknown token.</param>
/// <param name="ByteFallback">A character outside the vocabulary becomes its UTF-8 bytes' &lt;0xXX&gt; tokens.</param>
/// <param name="IgnoreMerges">A word that is itself in the vocabulary is that one token, whatever the merges say.</param>
/// <param name="ContinuingSubwordPrefix">Prefix of every symbol but a word's first (e.g. "##"), or null.</param>
/// <param name="EndOfWordSuffix">Suffix of a word's last symbol (e.g. "&lt;/w&gt;"), or null.</param>
internal sealed record BpeSettings(string? UnkToken, bool FuseUnk, bool ByteFallback, bool IgnoreMerges,
    string? ContinuingSubwordPrefix, string? EndOfWordSuffix);

/// <summary>
/// Hugging Face tokenizers' BPE model: a word starts as its characters (unknown ones as byte-fallback tokens or the
/// unknown token) and the adjacent pair with the lowest merge rank is merged until no pair has a merge (ties go to
/// the leftmost pair), with a priority queue so that long words (SentencePiece-style files have no pre-tokenizer:
/// a whole text is one word) cost n log n.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 100_000;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    private readonly BpeSettings _settings;
    private readonly int? _unkId;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <summary>A model over <paramref name="vocab"/> and its ordered <paramref name="merges"/>, already checked
    /// (every merge's parts and result are in the vocabulary).</summary>
    public BpeModel(Dictionary<string, int> vocab, Dictionary<(int, int), (int, int)> merges, BpeSettings settings)
    {
        _vocab = vocab;
        _merges = merges;
        _settings = settings;
        _unkId = settings.UnkToken is string unk && vocab.TryGetValue(unk, out int id) ? id : null;
    }

    /// <summary>The byte-fallback token of <paramref name="b"/>, e.g. "&lt;0x0A&gt;".</summary>
    public static string ByteToken(byte b) => $"<0x{b:X2}>";

    /// <summary>The ids of one pre-tokenized word.</summary>
    public int[] Tokenize(string word)
    {
        if (word.Length == 0) return [];
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && _cache.TryGetValue(word, out var cached)) return cached;
        int[] ids = _settings.IgnoreMerges && _vocab.TryGetValue(word, out int whole) ? [whole] : Merge(Symbols(word));
        if (cacheable)
        {
            if (_cache.Count >= MaxCacheEntries) _cache.Clear();
            _cache[word] = ids;
        }
        return ids;
    }

    /// <summary>The word's initial symbols as Hugging Face builds them: one per character (a surrogate pair is one
    /// character) with the continuing-subword prefix and end-of-word suffix; a character outside the vocabulary
    /// becomes its bytes' tokens (byte fallback, when the vocabulary has every one of them) or the unknown token (consecutive
    /// ones fused when fuse_unk), or is dropped when there is no unknown token.</summary>
    private List<int> Symbols(string word)
    {
        var symbols = new List<int>(word.Length);
        int? pendingUnk = null;
        var text = new StringBuilder();
        var bytes = new List<int>(4);
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            text.Clear();
            if (i > 0 && _settings.ContinuingSubwordPrefix is string prefix) text.Append(prefix);
            text.Append(word, i, width);
            if (i + width == word.Length && _settings.EndOfWordSuffix is string suffix) text.Append(suffix);
            i += width;
            string symbol = text.ToString();
            if (_vocab.TryGetValue(symbol, out int id))
            {
                if (pendingUnk is int unk) symbols.Add(unk);
                pendingUnk = null;
                symbols.Add(id);
                continue;
            }
            if (_settings.ByteFallback && ByteTokens(symbol, bytes))
            {
                symbols.AddRange(bytes);
                continue;
            }
            if (_unkId is int unkId)
            {
                if (pendingUnk is int previous && !_settings.FuseUnk) symbols.Add(previous);
                pendingUnk = unkId;
            }
        }
        if (pendingUnk is int last) symbols.Add(last);
        return symbols;
    }

    private bool ByteTokens(string symbol, List<int> ids)
    {
        ids.Clear();
        foreach (byte b in Encoding.UTF8.GetBytes(symbol))
        {
            if (!_vocab.TryGetValue(ByteToken(b), out int id)) return false;
            ids.Add(id);
        }
        return true;
    }

    /// <summary>Merges the symbols by rank, lowest first, leftmost among equal ranks.</summary>
    private int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return [.. symbols];
        var next = new int[n];
        var prev = new int[n];
        var id = symbols.ToArray();
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }
        var queue = new PriorityQueue<(int Pos, int Right, int Merged), (int Rank, int Pos)>();
        void Push(int pos)
        {
            int right = next[pos];
            if (right >= 0 && _merges.TryGetValue((id[pos], id[right]), out var m)) queue.Enqueue((pos, right, m.Merged), (m.Rank, pos));
        }
        for (int i = 0; i + 1 < n; i++) Push(i);
        while (queue.TryDequeue(out var top, out _))
        {
            // An entry is stale when either symbol has changed since it was queued.
            if (!alive[top.Pos] || next[top.Pos] != top.Right || !alive[top.Right]
                || !_merges.TryGetValue((id[top.Pos], id[top.Right]), out var m) || m.Merged != top.Merged) continue;
            id[top.Pos] = top.Merged;
            alive[top.Right] = false;
            next[top.Pos] = next[top.Right];
            if (next[top.Pos] >= 0) prev[next[top.Pos]] = top.Pos;
            if (prev[top.Pos] >= 0) Push(prev[top.Pos]);
            Push(top.Pos);
        }
        var result = new List<int>();
        for (int i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];
    }
}
