using SharpLens.Tokenization;

namespace SharpLens.Tests.Tokenization;

/// <summary>TransformerLens' prepend_bos semantics (HookedTransformer.to_tokens), on a character-level tokenizer whose
/// BOS handling is chosen per test: never two BOS tokens, prepend_bos=false removes what the tokenizer adds.</summary>
public class PrependBosTests
{
    /// <summary>Ids: "&lt;s&gt;" = 0, "&lt;/s&gt;" = 1, each other character its code − 'a' + 2; the special tokens are split
    /// off first, as Hugging Face matches added tokens before the model.</summary>
    private sealed class CharTokenizer(bool addsBos, bool defaultPrependBos, int padId = 1)
        : Tokenizer(new SpecialTokens("<s>", 0, 1, padId, defaultPrependBos))
    {
        public override int VocabSize => 28;

        private protected override int[] EncodeWithSpecialTokens(string text)
        {
            var ids = new List<int>();
            if (addsBos) ids.Add(0);
            for (int i = 0; i < text.Length; i++)
            {
                if (text.AsSpan(i).StartsWith("<s>")) { ids.Add(0); i += 2; }
                else if (text.AsSpan(i).StartsWith("</s>")) { ids.Add(1); i += 3; }
                else ids.Add(text[i] - 'a' + 2);
            }
            return [.. ids];
        }

        private protected override string DecodeIds(IReadOnlyList<int> ids) =>
            string.Concat(ids.Select(id => id switch { 0 => "<s>", 1 => "</s>", _ => ((char)('a' + id - 2)).ToString() }));
    }

    [Fact]
    public void ATokenizerThatAddsBosGetsItOnceAndLosesItWithoutPrependBos()
    {
        var tok = new CharTokenizer(addsBos: true, defaultPrependBos: true);
        Assert.True(tok.TokenizerPrependsBos);
        Assert.Equal([0, 2, 3], tok.ToTokens("ab"));
        Assert.Equal([0, 2, 3], tok.ToTokens("ab", prependBos: true));
        Assert.Equal([2, 3], tok.ToTokens("ab", prependBos: false));
        Assert.Equal(3, tok.ToSingleToken("b"));
    }

    [Fact]
    public void ATokenizerThatDoesNotAddBosGetsTheBosTextPrepended()
    {
        var tok = new CharTokenizer(addsBos: false, defaultPrependBos: true);
        Assert.False(tok.TokenizerPrependsBos);
        Assert.Equal([0, 2, 3], tok.ToTokens("ab"));
        Assert.Equal([2, 3], tok.ToTokens("ab", prependBos: false));
        Assert.Equal(["<s>", "a", "b"], tok.ToStrTokens("ab"));
    }

    [Fact]
    public void DefaultPrependBosFalseLeavesBosOutUnlessAsked()
    {
        foreach (bool adds in new[] { true, false })
        {
            var tok = new CharTokenizer(addsBos: adds, defaultPrependBos: false);
            Assert.Equal([2, 3], tok.ToTokens("ab"));
            Assert.Equal([0, 2, 3], tok.ToTokens("ab", prependBos: true));
        }
    }

    [Fact]
    public void BatchesArePaddedOnTheRightWithThePadToken()
    {
        var tok = new CharTokenizer(addsBos: true, defaultPrependBos: true, padId: 27);
        var batch = tok.ToTokens(["abc", "a"]);
        Assert.Equal([0, 2, 3, 4, 0, 2, 27, 27], batch.Ids);
        Assert.Equal([4, 2], batch.Lengths);
        Assert.Equal(27, batch.PadId);
    }

    [Fact]
    public void SingleTokenProblemsShowTheTokenization()
    {
        var tok = new CharTokenizer(addsBos: true, defaultPrependBos: true);
        var e = Assert.Throws<InvalidInputException>(() => tok.ToSingleToken("ab"));
        Assert.Equal("answer \"ab\" is 2 tokens [2 \"a\", 3 \"b\"], not one: choose a single-token answer (mind the leading space)", e.Message);
        Assert.Contains("is 0 tokens", tok.SingleTokenProblem("", out int id));
        Assert.Equal(-1, id);
    }

    [Fact]
    public void IdsOutsideTheVocabularyShowAsIdsAndCannotBeDecoded()
    {
        var tok = new CharTokenizer(addsBos: false, defaultPrependBos: true);
        Assert.Equal(["a", "<30>"], tok.ToStrTokens([2, 30]));
        Assert.Contains("outside the tokenizer's vocabulary", Assert.Throws<InvalidInputException>(() => tok.ToString([2, 30])).Message);
    }
}
