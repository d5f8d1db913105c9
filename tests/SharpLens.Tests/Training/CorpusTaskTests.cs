using SharpLens.Corpora;
using SharpLens.Tests.Support;
using SharpLens.Tokenization;
using SharpLens.Training;
using SharpLens.Training.Tasks;

namespace SharpLens.Tests.Training;

/// <summary>Text corpora as training data: packed BOS windows, held-out windows, a seeded order, exact resume checks.</summary>
public class CorpusTaskTests
{
    private static string WriteCorpus(string dir)
    {
        string path = Path.Combine(dir, "corpus.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 40).Select(i => $$"""{"text": "Document {{i}}: we're helping our friend while they are at home, and {{i * 7}} more words follow."}"""));
        return path;
    }

    [Fact]
    public void DocumentsArePackedIntoBosWindowsWithHeldOutWindowsAndASeededOrder()
    {
        string dir = CliRunner.TempDir();
        var corpus = Corpus.Open(WriteCorpus(dir));
        var tokenizer = new Gpt2Tokenizer();
        var task = new CorpusTask(corpus, tokenizer, 16, 50257, null);
        var expected = corpus.Documents().SelectMany(d => tokenizer.ToTokens(d.Text, prependBos: false).Append(tokenizer.EosTokenId)).ToList();
        Assert.Equal(expected.Count, task.Tokens);
        var batch = task.TrainBatch(5, 0, 4);
        Assert.Equal(4, batch.Tokens.Batch);
        Assert.All(batch.Tokens.Sequences(), s => { Assert.Equal(16, s.Length); Assert.Equal(50256, s[0]); });
        Assert.Equal(4 * 15, batch.Targets);                     // every prediction after BOS counts
        // Windows are consecutive 15-token chunks of the stream; training and held-out windows never overlap.
        var chunks = Enumerable.Range(0, expected.Count / 15).Select(w => string.Join(",", expected.GetRange(w * 15, 15))).ToList();
        var eval = task.EvalBatch(5, 0, 2).Tokens.Sequences().Select(s => string.Join(",", s[1..])).ToList();
        var train = Enumerable.Range(0, 20).SelectMany(i => task.TrainBatch(5, i, 4).Tokens.Sequences()).Select(s => string.Join(",", s[1..])).ToList();
        Assert.All(eval.Concat(train), w => Assert.Contains(w, chunks));
        Assert.Empty(train.Intersect(eval));
        Assert.Equal(task.TrainBatch(5, 3, 4).Tokens.Ids, task.TrainBatch(5, 3, 4).Tokens.Ids);
        Assert.NotEqual(task.TrainBatch(5, 0, 4).Tokens.Ids, task.TrainBatch(6, 0, 4).Tokens.Ids);
    }

    [Fact]
    public void ARunOnACorpusResumesOnlyOnTheSameCorpus()
    {
        string dir = CliRunner.TempDir(), path = WriteCorpus(dir), output = Path.Combine(dir, "run");
        var spec = TrainingModelConfig.Parse("""{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_vocab": 50257, "n_ctx": 16, "act_fn": "gelu_new"}""");
        var options = new TrainingOptions { Steps = 2, BatchSize = 2, EvalEvery = 1, EvalBatches = 1 };
        var run = TrainingRun.Start(output, TrainableModel.Initialize(spec, 1), CorpusTask.Settings(Corpus.Open(path), null, null), options, 1);
        run.Run();
        Assert.All(TrainingRun.ReadLog(output), r => Assert.True(r.Loss > 0 && r.EvalLoss > 0));
        File.AppendAllText(path, """{"text": "one more document"}""" + "\n");
        var e = Assert.Throws<InvalidInputException>(() => TrainingRun.Resume(output));
        Assert.Contains("changed since the run started", e.Message);
    }
}
