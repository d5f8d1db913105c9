using System.Reflection;
using SharpLens.Analysis.Metrics;
using SharpLens.Model;
using SharpLens.Studies;
using SharpLens.Studies.Templates;
using SharpLens.Tokenization;

namespace SharpLens.Tests.Studies;

[Collection("study-cli")]
public class TemplateTests
{
    private static readonly Gpt2Tokenizer Tok = new();

    /// <summary>'re with We/They, second pronouns they and she; 2 verbs x 1 object x 2 connectives: 8 candidate pairs per group.</summary>
    private const string Small = """
    {
      "study": { "name": "gen", "model": "gpt2" },
      "group_defaults": { "analyses": ["model_check", "patching", "comparisons"], "patching": ["resid_pre"] },
      "contractions": [ { "contraction": "'re", "full": " are", "verb": "ing", "pronouns": ["We", "They"], "second_pronouns": ["they", "she"] } ],
      "templates": ["{Pronoun}{contraction} {verb} {object} {connective} {pronoun2}"],
      "verbs": [ { "base": "help", "ing": "helping", "pp": "helped", "objects": ["our friend"] },
                 { "base": "visit", "ing": "visiting", "pp": "visited", "objects": ["our parents"] } ],
      "connectives": ["when", "while"]
    }
    """;

    private static string WithContractions(string contractions) =>
        Small.Replace("""[ { "contraction": "'re", "full": " are", "verb": "ing", "pronouns": ["We", "They"], "second_pronouns": ["they", "she"] } ]""", contractions);

    private static string RepoFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpLens.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), relative);
    }

    [Fact]
    public void ExpandsOneGroupPerContractionAndSecondPronounWithNotebookStylePairs()
    {
        var spec = TemplateSpec.Parse(Small);
        var candidates = StudyGenerator.Candidates(spec, spec.Contractions[0], "they", 0);
        Assert.Equal(2 * 2 * 1 * 2, candidates.Count);
        Assert.Contains(new StudyGenerator.Pair("We're helping our friend when they", "We are helping our friend when they"), candidates);
        Assert.Contains(new StudyGenerator.Pair("They're visiting our parents while they", "They are visiting our parents while they"), candidates);

        var result = StudyGenerator.Generate(spec, Tok, new GenerateOptions { MinPairs = 4, MaxPairs = 8 });
        Assert.Equal(["re_they", "re_she"], result.Groups.Select(g => g.Name));
        Assert.All(result.Groups, g => Assert.True(g.Kept));
        Assert.Empty(result.Dropped);
        var study = result.Study!;
        var g = study.Group("re_they");
        Assert.Equal(16, g.Prompts.Count);
        Assert.Null(g.Corrupted); // swap_pairs
        for (int i = 0; i < g.Prompts.Count; i += 2)
        {
            Assert.Contains("'re ", g.Prompts[i].Text);
            Assert.Equal(g.Prompts[i].Text!.Replace("'re ", " are "), g.Prompts[i + 1].Text);
            Assert.Equal(("'re", " are"), (g.Answers[i].Correct.Text, g.Answers[i].Wrong.Text));
            Assert.Equal((" are", "'re"), (g.Answers[i + 1].Correct.Text, g.Answers[i + 1].Wrong.Text));
            Assert.EndsWith(" they", g.Prompts[i].Text);
        }
        Assert.Equal(["model_check", "patching", "comparisons"], g.Analyses);
        // The generated file passes StudyFile parsing and validation against the GPT-2 tokenizer, and --max-pairs caps groups.
        var reparsed = StudyFile.ParseJson(result.ToJsonString());
        Assert.Equal(2, StudyValidation.Resolve(reparsed, StudyTarget.Gpt2Small).Count);
        var capped = StudyGenerator.Generate(spec, Tok, new GenerateOptions { MinPairs = 2, MaxPairs = 3, Analyses = ["model_check"] });
        Assert.All(capped.Study!.Groups, x => Assert.Equal(6, x.Prompts.Count));
        Assert.All(capped.Study!.Groups, x => Assert.Equal(["model_check"], x.Analyses));
        // Deterministic.
        Assert.Equal(result.ToJsonString(), StudyGenerator.Generate(spec, Tok).ToJsonString());
    }

    [Fact]
    public void MultiTokenAnswersDropTheirGroupsWithTheReason()
    {
        var spec = TemplateSpec.Parse(WithContractions("""
            [ { "name": "ll", "contraction": "'ll", "full": " will", "verb": "base", "pronouns": ["We"], "second_pronouns": ["they"] },
              { "name": "spaced", "contraction": " 'll", "full": " will", "verb": "base", "pronouns": ["We"], "second_pronouns": ["they"] },
              { "name": "shall", "contraction": "'ve", "full": " shall've", "verb": "pp", "pronouns": ["We"], "second_pronouns": ["they"] } ]
            """));
        var result = StudyGenerator.Generate(spec, Tok, new GenerateOptions { MinPairs = 2 });
        Assert.True(result.Groups.Single(g => g.Name == "ll_they").Kept);
        var spaced = result.Groups.Single(g => g.Name == "spaced_they");
        Assert.False(spaced.Kept);
        Assert.Contains("\" 'll\" is 2 tokens", spaced.Reason);
        Assert.Contains("single token", spaced.Reason);
        var shall = result.Groups.Single(g => g.Name == "shall_they");
        Assert.False(shall.Kept);
        Assert.Contains("\" shall've\" is 2 tokens", shall.Reason);
        Assert.Equal(["ll_they"], result.Study!.Groups.Select(g => g.Name));
        Assert.Contains(result.Notes, n => n.Contains("comparisons"));
        StudyValidation.Resolve(result.Study, StudyTarget.Gpt2Small);
    }

    [Fact]
    public void PairsOfUnequalTokenLengthAreDroppedAndGroupsKeepOneLength()
    {
        // "They" is one token, "The and" two: every pair differs in length.
        var spec = TemplateSpec.Parse(WithContractions("""
            [ { "name": "y", "contraction": "y", "full": " and", "verb": "ing", "pronouns": ["The"], "second_pronouns": ["they"] },
              { "name": "re", "contraction": "'re", "full": " are", "verb": "ing", "pronouns": ["We"], "second_pronouns": ["they"] } ]
            """).Replace("""["our parents"]""", """["dinner"]"""));
        var result = StudyGenerator.Generate(spec, Tok, new GenerateOptions { MinPairs = 1 });
        var y = result.Groups.Single(g => g.Name == "y_they");
        Assert.False(y.Kept);
        Assert.Contains("fewer than the minimum of 1", y.Reason);
        var pairDrop = result.Dropped.First(d => d.Group == "y_they");
        Assert.Equal("pair_length", pairDrop.Kind);
        Assert.StartsWith("They", pairDrop.Prompt);
        Assert.Contains("differ in length", pairDrop.Reason);
        // 're: "our friend" (2 tokens) and "dinner" (1) give two lengths; the group keeps one and reports the others.
        var re = result.Study!.Group("re_they");
        var lengths = re.Prompts.Select(p => Tok.ToTokens(p.Text!).Length).Distinct().ToList();
        Assert.Single(lengths);
        Assert.Equal(result.Groups.Single(g => g.Name == "re_they").Tokens, lengths[0]);
        Assert.Contains(result.Dropped, d => d.Group == "re_they" && d.Kind == "group_length" && d.Reason.Contains("same length"));
        StudyValidation.Resolve(result.Study, StudyTarget.Gpt2Small);
    }

    [Fact]
    public void ModelPreferenceFilterDropsPromptsAndThinGroups()
    {
        var spec = TemplateSpec.Parse(Small);
        var seen = new List<(string Prompt, string Correct, string Wrong)>();
        // Fake model: wrong on every full-form prompt with "visiting", and on everything after "she".
        PromptScorer scorer = (prompts, answers) =>
        {
            seen.AddRange(prompts.Select((p, i) => (p, answers[i].Correct, answers[i].Wrong)));
            return prompts.Select(p => p.EndsWith("she") || (p.Contains(" are visiting")) ? -0.5f : 1.5f).ToArray();
        };
        var result = StudyGenerator.Generate(spec, Tok, new GenerateOptions { MinPairs = 2, Scorer = scorer });
        // The scorer sees (contraction, full) then (full, contraction) per pair.
        Assert.All(seen, s => Assert.Equal(s.Prompt.Contains("'re") ? ("'re", " are") : (" are", "'re"), (s.Correct, s.Wrong)));
        var they = result.Groups.Single(g => g.Name == "re_they");
        Assert.True(they.Kept);
        Assert.Equal(4, they.Pairs);
        var prompts = result.Study!.Group("re_they").Prompts.Select(p => p.Text!).ToList();
        Assert.DoesNotContain(prompts, p => p.Contains("visiting"));
        var drop = result.Dropped.First(d => d.Group == "re_they");
        Assert.Equal("model", drop.Kind);
        Assert.Contains("visiting", drop.Prompt);
        Assert.Contains("prefers \"'re\" over \" are\"", drop.Reason);
        Assert.Contains("-0.5", drop.Reason);
        var she = result.Groups.Single(g => g.Name == "re_she");
        Assert.False(she.Kept);
        Assert.Equal("only 0 valid pairs of 8 candidates, fewer than the minimum of 2", she.Reason);
        Assert.Equal(8, result.Dropped.Count(d => d.Group == "re_she"));
        Assert.Equal(["re_they"], result.Study.Groups.Select(g => g.Name));
    }

    [Fact]
    public void RealScorerMatchesTheModelOnARandomGpt2VocabModel()
    {
        var cfg = new ModelConfig { NLayers = 1, DModel = 16, NHeads = 2, DHead = 8, DMlp = 64, DVocab = 50257, NCtx = 64 };
        var model = RandomWeights.CreateModel(cfg, seed: 3, tokenizer: Tok);
        var scorer = StudyGenerator.ModelScorer(model, batchSize: 3);
        string[] prompts = ["We're helping our friend when they", "We are helping our friend when they", "I'm cooking dinner and I", "I am cooking dinner and I"];
        (string, string)[] answers = [("'re", " are"), (" are", "'re"), ("'m", " am"), (" am", "'m")];
        var diffs = scorer(prompts, answers);
        for (int i = 0; i < prompts.Length; i++)
        {
            var logits = model.Forward(Tok.ToTokens(prompts[i])); // [1, pos, vocab]
            int pos = logits.Dim(1), v = cfg.DVocab;
            float expected = logits.Data[(pos - 1) * v + Tok.ToSingleToken(answers[i].Item1)] - logits.Data[(pos - 1) * v + Tok.ToSingleToken(answers[i].Item2)];
            Assert.Equal(expected, diffs[i], 3);
        }
        // Generating with it keeps only pairs whose both prompts the model gets right.
        var result = StudyGenerator.Generate(TemplateSpec.Parse(Small), Tok, new GenerateOptions { MinPairs = 1, Scorer = scorer });
        foreach (var g in result.Study?.Groups ?? [])
        {
            var batch = Tok.ToTokens(g.Prompts.Select(p => p.Text!).ToList());
            var ld = LogitDiff.PerPrompt(model.Run(batch, new ForwardOptions { Logits = LogitsMode.Final }),
                g.Answers.Select(a => (Tok.ToSingleToken(a.Correct.Text!), Tok.ToSingleToken(a.Wrong.Text!))).ToList());
            Assert.All(ld, d => Assert.True(d > 0));
        }
        Assert.All(result.Dropped, d => Assert.Equal("model", d.Kind));
    }

    [Fact]
    public void ShippedTemplateSpecGeneratesAValidStudy()
    {
        var spec = TemplateSpec.Load(RepoFile("studies/templates/contractions-templates.json"));
        Assert.Equal(["m", "re", "s", "ve", "ll", "d"], spec.Contractions.Select(c => c.Name));
        var result = StudyGenerator.Generate(spec, Tok);
        Assert.Contains("ll_they", result.Study!.Groups.Select(g => g.Name));
        Assert.Contains("m_i", result.Study.Groups.Select(g => g.Name));
        Assert.True(result.Study.Groups.Count >= 20);
        Assert.All(result.Study.Groups, g => Assert.Equal(16, g.Prompts.Count));
        Assert.Equal(result.Study.Groups.Count, StudyValidation.Resolve(StudyFile.ParseJson(result.ToJsonString()), StudyTarget.Gpt2Small).Count);
    }

    [Fact]
    public void BadSpecsFailWithOneLineErrors()
    {
        Assert.Contains("unknown slot {verbz}", Assert.Throws<InvalidInputException>(() => TemplateSpec.Parse(Small.Replace("{verb}", "{verbz}"))).Message);
        Assert.Contains("must end with {pronoun2}", Assert.Throws<InvalidInputException>(() => TemplateSpec.Parse(Small.Replace("{pronoun2}\"", "{pronoun2} now\""))).Message);
        Assert.Contains("\"verb\" must be one of", Assert.Throws<InvalidInputException>(() => TemplateSpec.Parse(Small.Replace("\"verb\": \"ing\"", "\"verb\": \"past\""))).Message);
        Assert.Contains("--max-pairs", Assert.Throws<InvalidInputException>(() => StudyGenerator.Generate(TemplateSpec.Parse(Small), Tok, new GenerateOptions { MinPairs = 5, MaxPairs = 4 })).Message);
    }

    [Fact]
    public void CliGenerateWritesAStudyThatValidates()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-tpl-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string spec = Path.Combine(dir, "t.json"), outFile = Path.Combine(dir, "out", "study.json");
            File.WriteAllText(spec, Small);
            Assert.Equal(0, Cli("study", "generate", spec, "--out", outFile, "--max-pairs", "4", "--analyses", "model_check,patching,comparisons"));
            var study = StudyFile.Load(outFile);
            Assert.Equal(["re_they", "re_she"], study.Groups.Select(g => g.Name));
            Assert.All(study.Groups, g => Assert.Equal(8, g.Prompts.Count));
            Assert.Equal(0, Cli("study", "validate", outFile));
            File.Delete(outFile);
            Assert.NotEqual(0, Cli("study", "generate", spec, "--out", outFile, "--min-pairs", "9", "--max-pairs", "9"));
            Assert.False(File.Exists(outFile));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static int Cli(params string[] args)
    {
        var entry = Assembly.Load("SharpLens.Cli").EntryPoint!;
        var stdout = Console.Out;
        Console.SetOut(new StringWriter());
        try { return (int)entry.Invoke(null, [args])!; }
        finally { Console.SetOut(stdout); }
    }
}
