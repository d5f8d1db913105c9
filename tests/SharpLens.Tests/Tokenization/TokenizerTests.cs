using SharpLens.Tokenization;

namespace SharpLens.Tests.Tokenization;

public class TokenizerTests
{
    private readonly Gpt2Tokenizer _tok = new();

    [Fact]
    public void StudyPromptTokenizesAsInTheNotebook()
    {
        Assert.Equal([50256, 1135, 821, 5742, 674, 1545, 618, 484], _tok.ToTokens("We're helping our friend when they"));
        Assert.Equal(["<|endoftext|>", "We", "'re", " helping", " our", " friend", " when", " they"],
            _tok.ToStrTokens("We're helping our friend when they"));
    }

    [Fact]
    public void SingleTokensAndMultiTokenError()
    {
        Assert.Equal(821, _tok.ToSingleToken("'re"));
        Assert.Equal(389, _tok.ToSingleToken(" are"));
        var ex = Assert.Throws<InvalidInputException>(() => _tok.ToSingleToken(" 're"));
        Assert.Contains("2 tokens", ex.Message);
    }

    [Fact]
    public void RoundTripAndNoBos()
    {
        var ids = _tok.ToTokens("They are eating dinner together", prependBos: false);
        Assert.Equal("They are eating dinner together", _tok.ToString(ids));
    }

    [Fact]
    public void RaggedBatchPadsOnTheRightAndTracksFinalPositions()
    {
        var batch = _tok.ToTokens(["We're here", "We are helping our friend"]);
        Assert.Equal(6, batch.Pos);
        Assert.Equal([4, 6], batch.Lengths);
        Assert.Equal(3, batch.FinalPosition(0));
        Assert.Equal(50256, batch[0, 5]);
    }

    [Fact]
    public void Gpt2PrependsEndOfTextAsTransformerLensDoes()
    {
        Assert.False(_tok.TokenizerPrependsBos);
        Assert.True(_tok.DefaultPrependBos);
        Assert.Equal((50256, 50256, 50256), (_tok.BosTokenId, _tok.EosTokenId, _tok.PadTokenId));
        // The BOS text prepended before tokenizing splits off as the special token: the prompt's tokens are unchanged.
        Assert.Equal([50256, .. _tok.ToTokens(" hello world", prependBos: false)], _tok.ToTokens(" hello world"));
    }
}
