using System.Text.Json.Nodes;
using SharpLens.Tests.Loading;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Tokenization;

/// <summary>Malformed, truncated, inconsistent and unsupported tokenizer files: each is one line naming the file and
/// the field (an <see cref="InvalidInputException"/>, which the CLI turns into exit code 2), never a crash.</summary>
public class TokenizerFileErrorTests
{
    private static string Fixture(string name) => Fixtures.Folder(Path.Combine("tokenizers", name));

    /// <summary>A copy of a fixture folder with <paramref name="edit"/> applied to one of its JSON files.</summary>
    private static TempDir Edited(string fixture, string file, Action<JsonObject> edit)
    {
        var dir = new TempDir();
        foreach (var f in Directory.GetFiles(Fixture(fixture))) File.Copy(f, dir.File(Path.GetFileName(f)));
        var json = JsonNode.Parse(File.ReadAllText(dir.File(file)))!.AsObject();
        edit(json);
        File.WriteAllText(dir.File(file), json.ToJsonString());
        return dir;
    }

    private static void Fails(string folder, params string[] mustContain)
    {
        var e = Assert.Throws<InvalidInputException>(() => TokenizerLoader.Load(folder, new TokenizerLoadOptions { ModelVocabSize = 1000 }));
        Assert.DoesNotContain('\n', e.Message);
        foreach (var s in mustContain) Assert.True(e.Message.Contains(s, StringComparison.Ordinal), $"\"{s}\" not in: {e.Message}");
    }

    public static TheoryData<string, string, Action<JsonObject>, string[]> Cases => new()
    {
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["type"] = "WordPiece", ["tokenizer.json", "model is a WordPiece model", "--tokens"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"] = new JsonObject { ["type"] = "Unigram", ["vocab"] = new JsonArray() }, ["model is a Unigram model"] },
        { "bpe-llama3", "tokenizer.json", j => j.Remove("model"), ["tokenizer.json: model: is missing"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["vocab"] = new JsonArray(), ["model.vocab: must be an object, not a list"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["vocab"]!["Ġthe"] = "x", ["model.vocab.Ġthe: must be a non-negative integer, not the string \"x\""] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Add("Ġ zzz"), ["model.merges[", "\"Ġ\" and \"zzz\"", "do not belong together"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Add("a b c"), ["model.merges[", "is not a merge"] },
        { "bpe-qwen2", "tokenizer.json", j => j["model"]!["merges"]!.AsArray().Add(new JsonArray("a")), ["model.merges[", "is not a merge"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["unk_token"] = "<unk>", ["model.unk_token", "\"<unk>\" is not in model.vocab"] },
        { "bpe-llama3", "tokenizer.json", j => j["model"]!["dropout"] = 0.1, ["model.dropout", "set it to null"] },
        { "bpe-llama3", "tokenizer.json", j => j["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = "(unclosed" }, ["pre_tokenizer.pretokenizers[0].pattern.Regex", "not a regular expression"] },
        { "bpe-llama3", "tokenizer.json", j => j["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Sideways", ["pre_tokenizer.pretokenizers[0].behavior", "\"Sideways\" is not a split behavior"] },
        { "bpe-llama3", "tokenizer.json", j => j["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" }, ["pre_tokenizer is a BertPreTokenizer pre-tokenizer"] },
        { "bpe-llama3", "tokenizer.json", j => j["normalizer"] = new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = "" }, ["normalizer is a Precompiled normalizer"] },
        { "bpe-llama3", "tokenizer.json", j => j["decoder"] = new JsonObject { ["type"] = "WordPiece" }, ["decoder is a WordPiece decoder"] },
        { "bpe-llama3", "tokenizer.json", j => j["post_processor"]!["processors"]![1]!["single"]![0]!["SpecialToken"]!["id"] = "<nope>", ["\"<nope>\" is not among post_processor.special_tokens"] },
        { "bpe-llama3", "tokenizer.json", j => j["added_tokens"]![0]!.AsObject().Remove("id"), ["added_tokens[0].id: is missing"] },
        { "bpe-llama3", "tokenizer.json", j => j["added_tokens"]![0]!["content"] = "", ["added_tokens[0].content: is empty"] },
        { "bpe-llama3", "tokenizer_config.json", j => j["bos_token"] = "<|nope|>", ["tokenizer_config.json: bos_token \"<|nope|>\" is not a token of tokenizer.json"] },
        { "bpe-llama3", "tokenizer_config.json", j => j["eos_token"] = 7.5, ["tokenizer_config.json: eos_token: must be a token string, null or an object with \"content\", not the number 7.5"] },
        { "bpe-llama3", "tokenizer_config.json", j => j["bos_token"] = new JsonObject { ["lstrip"] = false }, ["tokenizer_config.json: bos_token.content: is missing"] },
        { "bpe-qwen2", "tokenizer_config.json", j => j["eos_token"] = null, ["names no bos_token or eos_token"] },
        { "spm-llama", "tokenizer_config.json", j => j["add_bos_token"] = "yes", ["tokenizer_config.json: add_bos_token: must be true or false"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadTokenizerFilesAreOneLineErrors(string fixture, string file, Action<JsonObject> edit, string[] mustContain)
    {
        using var dir = Edited(fixture, file, edit);
        Fails(dir.Path, mustContain);
    }

    [Theory]
    [InlineData("tokenizer.json")]
    [InlineData("tokenizer_config.json")]
    public void TruncatedOrMalformedJsonNamesTheFileAndThePosition(string file)
    {
        using var dir = Edited("bpe-neox", file, _ => { });
        string text = File.ReadAllText(dir.File(file));
        File.WriteAllText(dir.File(file), text[..(text.Length / 2)]);
        Fails(dir.Path, $"{file}: malformed JSON at line ");
        File.WriteAllText(dir.File(file), "[1, 2]");
        Fails(dir.Path, $"{file}: the top level must be an object, not a list");
    }

    [Fact]
    public void AGarbledTokenizerModelIsOneLineError()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Path.Combine(Fixture("spm-llama"), "tokenizer.model"));
        File.WriteAllBytes(dir.File("tokenizer.model"), bytes[..(bytes.Length / 3)]);
        Fails(dir.Path, "tokenizer.model is not a SentencePiece BPE model SharpLens can read", "--tokens");
        File.WriteAllText(dir.File("tokenizer.model"), "not a protobuf at all");
        Fails(dir.Path, "tokenizer.model is not a SentencePiece BPE model");
    }

    [Fact]
    public void SpecialTokensOutsideTheModelsVocabularyAreRefused()
    {
        var e = Assert.Throws<InvalidInputException>(() =>
            TokenizerLoader.Load(Fixture("bpe-llama3"), new TokenizerLoadOptions { ModelVocabSize = 100 }));
        Assert.Contains("is token 616, outside the model's vocabulary of 100 (config.json vocab_size)", e.Message);
    }

    [Fact]
    public void AFolderWithoutTokenizerFilesSaysWhatWasLookedFor()
    {
        using var dir = new TempDir();
        var result = TokenizerLoader.Load(dir.Path, new TokenizerLoadOptions { ModelVocabSize = 120, BundledGpt2Fallback = true });
        Assert.Null(result.Tokenizer);
        Assert.Equal($"{dir.Path} has no tokenizer.json or tokenizer.model (and its vocabulary of 120 is not GPT-2's)", result.Missing);
        var e = Assert.Throws<InvalidInputException>(() => result.Require("--prompt"));
        Assert.StartsWith("--prompt needs a tokenizer, but ", e.Message);
        Assert.EndsWith("give token ids instead (e.g. --tokens 1,2,3)", e.Message);
        // A GPT-2-sized vocabulary without files gets GPT-2's bundled tokenizer; tokenizer files in the folder win.
        Assert.IsType<Gpt2Tokenizer>(TokenizerLoader.Load(dir.Path, new TokenizerLoadOptions { ModelVocabSize = 50257, BundledGpt2Fallback = true }).Tokenizer);
        foreach (var f in Directory.GetFiles(Fixture("bpe-neox"))) File.Copy(f, dir.File(Path.GetFileName(f)));
        Assert.IsType<SharpLens.Tokenization.HuggingFace.HfTokenizer>(
            TokenizerLoader.Load(dir.Path, new TokenizerLoadOptions { ModelVocabSize = 50257, BundledGpt2Fallback = true }).Tokenizer);
    }
}
