using System.Text.Json.Nodes;
using SharpLens.Studies;

namespace SharpLens.Tests.Studies;

public class StudyFileTests
{
    internal const string TinyJson = """
    {
      "name": "tiny",
      "questions": ["Does it run?"],
      "defaults": { "neuron_layers": [1, 2], "top_neurons": 2 },
      "comparisons": { "figures": ["head_attribution", "resid_pre"], "permutations": 200, "resamples": 200 },
      "claims": [ { "text": "L1H0 is the top head", "group": "a", "kind": "top_positive_head", "expect": "L1H0" } ],
      "groups": {
        "a": {
          "experiment": 1,
          "prompts": [[119, 5, 6, 7, 8], [119, 9, 10, 11, 12], [119, 13, 14, 15, 16], [119, 17, 18, 19, 20]],
          "answers": [[30, 31], [31, 30], [30, 31], [31, 30]],
          "corrupted": "swap_pairs",
          "analyses": ["model_check", "logit_lens", "layer_attribution", "head_attribution", "attention_patterns", "patching", "neuron_patching", "attribution_patching", "comparisons"]
        },
        "b": {
          "prompts": [[119, 21, 22, 23, 24], [119, 25, 26, 27, 28]],
          "answers": [[40, 41], [41, 40]],
          "corrupted": [[119, 25, 26, 27, 28], [119, 21, 22, 23, 24]],
          "analyses": ["model_check", "head_attribution", "patching", "comparisons"],
          "patching": ["resid_pre", "attn_out"]
        }
      }
    }
    """;

    internal const string TinyYaml = """
    name: tiny
    questions: ["Does it run?"]
    defaults:
      neuron_layers: [1, 2]
      top_neurons: 2
    comparisons:
      figures: [head_attribution, resid_pre]
      permutations: 200
      resamples: 200
    claims:
      - {text: L1H0 is the top head, group: a, kind: top_positive_head, expect: L1H0}
    groups:
      a:
        experiment: 1
        prompts: [[119, 5, 6, 7, 8], [119, 9, 10, 11, 12], [119, 13, 14, 15, 16], [119, 17, 18, 19, 20]]
        answers: [[30, 31], [31, 30], [30, 31], [31, 30]]
        corrupted: swap_pairs
        analyses: [model_check, logit_lens, layer_attribution, head_attribution, attention_patterns, patching, neuron_patching, attribution_patching, comparisons]
      b:
        prompts: [[119, 21, 22, 23, 24], [119, 25, 26, 27, 28]]
        answers: [[40, 41], [41, 40]]
        corrupted: [[119, 25, 26, 27, 28], [119, 21, 22, 23, 24]]
        analyses: [model_check, head_attribution, patching, comparisons]
        patching: [resid_pre, attn_out]
    """;

    internal static readonly StudyTarget Tiny = new(null, 120, 24, 3, 119);

    [Fact]
    public void JsonAndYamlParseToTheSameStudy()
    {
        var j = StudyFile.ParseJson(TinyJson, "tiny.json");
        var y = StudyFile.ParseYaml(TinyYaml, "tiny.yaml");
        Assert.Equal("tiny", j.Name);
        Assert.Equal(["a", "b"], j.Groups.Select(g => g.Name));
        Assert.Equal(j.Groups.Select(g => g.Name), y.Groups.Select(g => g.Name));
        Assert.Equal(j.Source!.ToJsonString(), y.Source!.ToJsonString());
        var a = j.Group("a");
        Assert.Equal([1, 2], a.NeuronLayers);
        Assert.Equal(2, a.TopNeurons);
        Assert.Null(a.Corrupted);
        Assert.Equal([119, 5, 6, 7, 8], a.Prompts[0].Ids!);
        Assert.Equal(["resid_pre", "attn_out"], j.Group("b").Patching);
        Assert.Equal(200, y.Comparisons.Permutations);
        Assert.Single(y.Claims);
        Assert.Equal(["L1H0"], y.Claims[0].Expect);

        var resolved = StudyValidation.Resolve(y, Tiny);
        Assert.Equal((30, 31), resolved[0].Answers[0]);
        Assert.Equal([119, 9, 10, 11, 12], resolved[0].Corrupted.Sequence(0)); // swapped pairs
        Assert.Equal([119, 25, 26, 27, 28], resolved[1].Corrupted.Sequence(0)); // explicit
    }

    [Fact]
    public void YamlQuotedScalarsStayText()
    {
        var s = StudyFile.ParseYaml("""
            name: t
            groups:
              g:
                prompts: ["We're here and they", "We are here and they"]
                answers: [["'re", " are"], [" are", "'re"]]
            """);
        Assert.Equal("We're here and they", s.Groups[0].Prompts[0].Text);
        Assert.Equal(" are", s.Groups[0].Answers[0].Wrong.Text);
    }

    private static string Mutate(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(TinyJson)!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { Mutate(r => r["groups"]!["a"]!["answers"]![0]![0] = 500), "group 'a', prompt 0: token id 500 is outside the model's vocabulary (0..119)" },
        { Mutate(r => r["groups"]!["a"]!["answers"]![1] = new JsonArray(new JsonArray(30, 31), 30)), "group 'a', prompt 1: answer [30, 31] is 2 tokens" },
        { Mutate(r => r["groups"]!["a"]!["answers"]![2] = new JsonArray(30, 30)), "group 'a', prompt 2: the correct and wrong answers are the same token 30" },
        { Mutate(r => r["groups"]!["a"]!["prompts"]![3] = new JsonArray(119, 17, 18, 19)), "group 'a', prompt 2: 5 tokens but its corrupted prompt (prompt 3, swapped) has 4" },
        { Mutate(r => r["groups"]!["b"]!["corrupted"]![1] = new JsonArray(119, 1)), "group 'b', prompt 1: 5 tokens but its corrupted prompt has 2" },
        { Mutate(r => r["groups"]!["a"]!["prompts"] = new JsonArray()), "group 'a' has no prompts" },
        { Mutate(r => r["groups"] = new JsonObject()), "\"groups\" must be a non-empty object" },
        { Mutate(r => r["groups"]!["a"]!["analyses"]!.AsArray().Add("logit_lense")), "group 'a': unknown analysis 'logit_lense': known analyses are model_check, logit_lens, layer_attribution" },
        { Mutate(r => r["groups"]!["b"]!["patching"]!.AsArray().Add("resid")), "group 'b': unknown patching sweep 'resid'" },
        { Mutate(r => r["defaults"]!["neuron_layers"] = new JsonArray(1, 3)), "group 'a': neuron layer 3 does not exist: the model has layers 0..2" },
        { Mutate(r => r["groups"]!["a"]!["answers"]!.AsArray().RemoveAt(0)), "group 'a': 3 answer pairs for 4 prompts" },
        { Mutate(r => { r["groups"]!["a"]!["prompts"]!.AsArray().RemoveAt(0); r["groups"]!["a"]!["answers"]!.AsArray().RemoveAt(0); }), "group 'a': \"swap_pairs\" needs an even number of prompts, got 3" },
        { Mutate(r => r["groups"]!["a"]!["prompts"]![0] = "text prompt"), "group 'a', prompt 0 is text but the model has no tokenizer" },
        { Mutate(r => r["groups"]!["a"]!["corrupted"] = "shuffle"), "group 'a': \"corrupted\" must be a list of prompts or \"swap_pairs\"" },
        { Mutate(r => r["comparisons"]!["figures"]!.AsArray().Add("mlp_out")), "comparisons: figure 'mlp_out' is compared across groups but group 'b' does not compute it" },
        { Mutate(r => r["claims"]![0]!["group"] = "zzz"), "claims[0]: unknown group 'zzz'" },
        { Mutate(r => r["claims"]![0]!["kind"] = "best_head"), "claims[0]: unknown kind 'best_head'" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void EveryValidationErrorIsOneLine(string json, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => StudyValidation.Resolve(StudyFile.ParseJson(json, "tiny.json"), Tiny));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MultiTokenTextAnswerNamesItsTokens()
    {
        var s = StudyFile.ParseJson("""{"name": "t", "groups": {"g": {"prompts": ["We are here", "They are here"], "answers": [[" are", " arexyz"], [" is", " are"]]}}}""");
        var e = Assert.Throws<InvalidInputException>(() => StudyValidation.Resolve(s, StudyTarget.Gpt2Small));
        Assert.Matches(@"^1 answer pair is not single tokens under this model's tokenizer: group 'g', prompt 0 \[.*\]: "" arexyz"" is [2-9] tokens \[\d+ "" are"", ", e.Message);
        Assert.Contains("every answer must be a single token", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EveryMultiTokenAnswerPairIsListedInOneLineBeforeAnyGroupIsResolved()
    {
        // Group "a" also has an invalid analysis, which resolving it would report first: the answer check comes before.
        var s = StudyFile.ParseJson("""
            {"name": "t", "groups": {
              "a": {"prompts": ["We are here", "They are here"], "answers": [["'re", " are"], [" arexyz", " are"]], "analyses": ["logit_lense"]},
              "b": {"prompts": ["He is here", "She is here"], "answers": [[" is", "'s"], [" isn't", " isnot"]]}}}
            """);
        var e = Assert.Throws<InvalidInputException>(() => StudyValidation.Resolve(s, StudyTarget.Gpt2Small));
        Assert.StartsWith("2 answer pairs are not single tokens under this model's tokenizer: group 'a', prompt 1 [", e.Message);
        Assert.Contains("; group 'b', prompt 1 [", e.Message);
        Assert.Contains("\" isn't\" is 2 tokens [2125 \" isn\", 470 \"'t\"] and \" isnot\" is 2 tokens", e.Message);
        Assert.DoesNotContain("group 'a', prompt 0", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("{\"name\": 1, }}", "malformed JSON")]
    [InlineData("[]", "the top level must be an object")]
    public void MalformedFilesAreOneLineErrors(string json, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => StudyFile.ParseJson(json, "bad.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("bad.json: ", e.Message);
    }

    [Fact]
    public void MalformedYamlIsAnError()
    {
        var e = Assert.Throws<InvalidInputException>(() => StudyFile.ParseYaml("name: [unclosed\ngroups: {", "bad.yaml"));
        Assert.Contains("bad.yaml: malformed YAML", e.Message);
    }

    private static string RepoFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpLens.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), relative);
    }

    [Fact]
    public void ShippedContractionsStudyValidatesAgainstTheGpt2Tokenizer()
    {
        var study = StudyFile.Load(RepoFile("studies/contractions.json"));
        var groups = StudyValidation.Resolve(study, StudyTarget.Gpt2Small);
        Assert.Equal(["re_they", "re_she", "re_he", "re_we", "s_she", "s_he", "s_we", "s_they"], groups.Select(g => g.Name));
        var exp1 = groups[0];
        Assert.Equal([50256, 1135, 821, 5742, 674, 1545, 618, 484], exp1.Clean.Sequence(0)); // notebook's exp1_tokens[0]
        Assert.Equal([50256, 1135, 389, 5742, 674, 1545, 618, 484], exp1.Corrupted.Sequence(0)); // swapped with prompt 1
        Assert.Equal((821, 389), exp1.Answers[0]);
        Assert.Equal((389, 821), exp1.Answers[1]);
        Assert.Equal([8, 10], exp1.Group.NeuronLayers);
        Assert.Contains(StudyAnalyses.NeuronPatching, exp1.Group.Analyses);
        Assert.Equal((338, 318), groups[1].Answers[0]);
        Assert.Equal(7, study.ComparedGroups.Count);
        Assert.All(groups, g => Assert.Equal(8, g.Clean.Batch));
    }
}
