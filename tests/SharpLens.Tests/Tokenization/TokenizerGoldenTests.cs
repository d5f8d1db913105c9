using System.Text.Json.Nodes;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Tokenization;

/// <summary>
/// Exact ids against goldens from independent implementations (tests/reference/make_tokenizer_fixtures.py):
/// sentencepiece itself for the SentencePiece model (read as tokenizer.model through Microsoft.ML.Tokenizers and as the
/// tokenizer.json the script converts, both legacy and Metaspace), and the script's own byte-level BPE for the Llama 3,
/// Qwen2 and GPT-NeoX style files; GPT-2's tokenizer.json against GPT-2's bundled tiktoken tokenizer.
/// </summary>
public class TokenizerGoldenTests
{
    private static string Folder(string name) => Fixtures.Folder(Path.Combine("tokenizers", name));

    private static (int Bos, List<(string Text, int[] Ids, JsonNode Golden)> Goldens) Goldens(string name)
    {
        var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder(name), "goldens.json")))!;
        var goldens = root["goldens"]!.AsArray()
            .Select(g => (g!["text"]!.GetValue<string>(), g["ids"]!.AsArray().Select(i => i!.GetValue<int>()).ToArray(), g)).ToList();
        return (root["bos"]!.GetValue<int>(), goldens);
    }

    private static Tokenizer Load(string folder) =>
        TokenizerLoader.Load(folder).Tokenizer ?? throw new InvalidOperationException($"no tokenizer in {folder}");

    [Theory]
    [InlineData("spm-llama")]
    [InlineData("spm-metaspace")]
    [InlineData("bpe-llama3")]
    [InlineData("bpe-qwen2")]
    [InlineData("bpe-neox")]
    public void TokenizerJsonGivesTheGoldenIds(string name)
    {
        var tok = Load(Folder(name));
        var (bos, goldens) = Goldens(name);
        Assert.True(tok is SharpLens.Tokenization.HuggingFace.HfTokenizer);
        foreach (var (text, ids, golden) in goldens)
        {
            if (golden["changed_by_nfc"]?.GetValue<bool>() == true && !UnicodeNormalizationWorks)
            {
                // SharpLens runs with InvariantGlobalization, where .NET's string.Normalize is a no-op: text that NFC
                // would change (here "cafe" + U+0301) is tokenized unnormalized (docs/tokenizers.md, deviations).
                Assert.False(ids.SequenceEqual(tok.ToTokens(text, prependBos: false)));
                continue;
            }
            Assert.True(ids.SequenceEqual(tok.ToTokens(text, prependBos: false)),
                $"{name} {Tokenizer.Quote(text)}: expected [{string.Join(",", ids)}], got [{string.Join(",", tok.ToTokens(text, prependBos: false))}]");
            Assert.Equal([bos, .. ids], tok.ToTokens(text, prependBos: true));
            if (golden["str_tokens"] is JsonArray strTokens)
                Assert.Equal(strTokens.Select(s => s!.GetValue<string>()), tok.ToStrTokens(ids));
            if (golden["decoded"] is JsonNode decoded)
                Assert.Equal(decoded.GetValue<string>(), tok.ToString(ids));
        }
    }

    [Fact]
    public void TokenizerModelGivesTheGoldenIdsThroughMicrosoftMlTokenizers()
    {
        using var dir = new TempDir();
        foreach (var file in new[] { "tokenizer.model", "tokenizer_config.json" })
            File.Copy(Path.Combine(Folder("spm-llama"), file), dir.File(file));
        var tok = Load(dir.Path);
        Assert.True(tok is SentencePieceModelTokenizer);
        var (bos, goldens) = Goldens("spm-llama");
        var deviations = new List<string>();
        foreach (var (text, ids, golden) in goldens)
        {
            var got = tok.ToTokens(text, prependBos: false);
            if (!ids.SequenceEqual(got)) deviations.Add($"{Tokenizer.Quote(text)}: expected [{string.Join(",", ids)}], got [{string.Join(",", got)}]");
            else Assert.Equal([bos, .. ids], tok.ToTokens(text));
            Assert.Equal(golden["decoded"]!.GetValue<string>(), tok.ToString(ids));
        }
        // Microsoft.ML.Tokenizers 3.0.0 merges runs of spaces differently from sentencepiece (docs/tokenizers.md);
        // tokenizer.json is preferred when a folder has both. Any other difference fails here.
        Assert.True(deviations.All(d => d.Contains("  ", StringComparison.Ordinal)), string.Join("\n", deviations));
        Assert.Single(deviations);
    }

    [Fact]
    public void TransformerLensBosDefaultsFollowEachFamily()
    {
        // Llama-style: the tokenizer adds BOS itself; TransformerLens prepends by default and strips it when told not to.
        foreach (var name in new[] { "spm-llama", "spm-metaspace", "bpe-llama3" })
        {
            var tok = Load(Folder(name));
            Assert.True(tok.TokenizerPrependsBos, name);
            Assert.True(tok.DefaultPrependBos, name);
        }
        // GPT-NeoX: BOS <|endoftext|> prepended as text by TransformerLens.
        var neox = Load(Folder("bpe-neox"));
        Assert.False(neox.TokenizerPrependsBos);
        Assert.True(neox.DefaultPrependBos);
        Assert.Equal("<|endoftext|>", neox.BosToken);
        // Qwen2: no BOS token (bos_token null): TransformerLens' default_prepend_bos is false, and BOS falls back to EOS.
        var qwen = Load(Folder("bpe-qwen2"));
        Assert.False(qwen.DefaultPrependBos);
        Assert.False(qwen.TokenizerPrependsBos);
        Assert.Equal(qwen.EosTokenId, qwen.BosTokenId);
        Assert.Equal(qwen.EosTokenId, qwen.PadTokenId);
        Assert.Equal(qwen.ToTokens("Hello", prependBos: false), qwen.ToTokens("Hello"));
    }

    [Fact]
    public void AddedTokensAreMatchedBeforeTheModel()
    {
        var tok = Load(Folder("bpe-llama3"));
        int begin = tok.BosTokenId, end = tok.EosTokenId;
        var ids = tok.ToTokens("<|begin_of_text|>Hi<|end_of_text|>", prependBos: false);
        Assert.Equal(begin, ids[0]);
        Assert.Equal(end, ids[^1]);
        Assert.Equal(tok.ToTokens("Hi", prependBos: false), ids[1..^1]);
        // The non-special <custom> is one token wherever it appears; its neighbours are tokenized on their own.
        var custom = tok.ToSingleToken("<custom>");
        Assert.Equal([.. tok.ToTokens("a ", prependBos: false), custom, .. tok.ToTokens("glued", prependBos: false)],
            tok.ToTokens("a <custom>glued", prependBos: false));
    }

    [Theory]
    [InlineData("spm-llama")]
    [InlineData("spm-metaspace")]
    [InlineData("bpe-llama3")]
    [InlineData("bpe-qwen2")]
    [InlineData("bpe-neox")]
    public void DecodingAnEncodingGivesTheTextBack(string name)
    {
        // Byte-level BPE and SentencePiece with byte fallback lose nothing: the text comes back as the reference
        // decodes it (Qwen2 normalizes to NFC first; Metaspace's "first" scheme drops a leading space).
        var tok = Load(Folder(name));
        foreach (var (text, _, golden) in Goldens(name).Goldens)
        {
            if (golden["changed_by_nfc"]?.GetValue<bool>() == true && !UnicodeNormalizationWorks) continue;
            Assert.Equal(golden["decoded"]!.GetValue<string>(), tok.ToString(tok.ToTokens(text, prependBos: false)));
        }
    }

    /// <summary>Whether .NET normalizes Unicode here (not under InvariantGlobalization).</summary>
    private static bool UnicodeNormalizationWorks => "e\u0301".Normalize(System.Text.NormalizationForm.FormC) == "\u00e9";

    public static readonly string[] Gpt2Corpus =
    [
        "We're helping our friend when they", "They'RE here, we'll see; I'm sure it's fine, isn't it?", "Hello world", " Hello world",
        "  two leading spaces", "trailing spaces   ", "a  b   c    d\te\n\nf", "line one\nline two\r\n\r\nline four",
        "12345678 is a number, 3.14159 too, and 1,000,000.", "2024-12-01T10:30:00Z", "café naïve résumé", "cafe\u0301",
        "模型预测下一个词。", "言語モデルは次の単語を予測します。", "Привет, мир!", "مرحبا بالعالم", "emoji: 🤗 👍🏽 👨‍👩‍👧 🇫🇷",
        "math letters 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and digits 𝟙𝟚𝟛", "def f(x):\n    return x ** 2  # square", "<|endoftext|>Hello<|endoftext|>",
        "", " ", "\n", "x", "Ω≈ç√∫˜µ≤≥÷ ¡™£¢∞§¶•ªº–≠", "The quick brown fox jumps over the lazy dog. " + new string('!', 40),
    ];

    [Fact]
    public void Gpt2TokenizerJsonMatchesTheBundledTiktokenTokenizer()
    {
        using var dir = new TempDir();
        Gpt2TokenizerJson.Write(dir.Path);
        var json = Load(dir.Path);
        var tiktoken = new Gpt2Tokenizer();
        Assert.Equal(50257, json.VocabSize);
        Assert.Equal((50256, 50256, 50256), (json.BosTokenId, json.EosTokenId, json.PadTokenId));
        Assert.False(json.TokenizerPrependsBos);
        foreach (var text in Gpt2Corpus)
        {
            Assert.True(tiktoken.ToTokens(text).SequenceEqual(json.ToTokens(text)), Tokenizer.Quote(text));
            var ids = json.ToTokens(text, prependBos: false);
            Assert.Equal(tiktoken.ToStrTokens(ids), json.ToStrTokens(ids));
            Assert.Equal(text, json.ToString(ids));
        }
        Assert.True(tiktoken.ToTokens("mixed a𝔘b").SequenceEqual(json.ToTokens("mixed a𝔘b")));
    }

    [Fact]
    public void ModelLoaderUsesTheFoldersTokenizerAndItsBos()
    {
        using var dir = new TempDir();
        foreach (var f in Directory.GetFiles(Fixtures.Folder("tiny-b"))) File.Copy(f, dir.File(Path.GetFileName(f)));
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Folder("spm-llama"), f), dir.File(f));
        TokenizerLoadResult? seen = null;
        var model = SharpLens.Loading.ModelLoader.Load(dir.Path, new SharpLens.Loading.LoadOptions { ResolveHubId = null, BeforeWeights = t => seen = t });
        Assert.Same(seen!.Tokenizer, model.Tokenizer);
        Assert.IsType<SharpLens.Tokenization.HuggingFace.HfTokenizer>(model.Tokenizer);
        Assert.Null(model.MissingTokenizer);
        Assert.Equal(1, model.Config.BosTokenId);
        int[] expected = [1, .. model.Tokenizer!.ToTokens("We", prependBos: false)];
        Assert.Equal(expected, model.Tokenizer.ToTokens("We"));
    }
}
