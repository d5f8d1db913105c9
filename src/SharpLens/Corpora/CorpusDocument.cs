namespace SharpLens.Corpora;

/// <summary>One document of a corpus: its position in the corpus, a name for display, and its text.</summary>
/// <param name="Index">0-based position of the document in the corpus (stable across runs over the same corpus).</param>
/// <param name="Name">Where it came from: a file name, "file.jsonl:12", or a Brown text id such as "ca01".</param>
/// <param name="Text">The text the model reads.</param>
public sealed record CorpusDocument(int Index, string Name, string Text);
