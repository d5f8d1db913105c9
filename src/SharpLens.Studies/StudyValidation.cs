using SharpLens.Analysis.Patching;
using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Studies;

/// <summary>A group with every prompt and answer turned into token ids, ready to run.</summary>
public sealed record ResolvedGroup
{
    /// <summary>The group as written in the study file.</summary>
    public required StudyGroup Group { get; init; }
    /// <summary>The clean prompts, right-padded.</summary>
    public required TokenBatch Clean { get; init; }
    /// <summary>The corrupted prompts, right-padded; prompt b is the counterpart of clean prompt b.</summary>
    public required TokenBatch Corrupted { get; init; }
    /// <summary>(correct, wrong) token ids per prompt.</summary>
    public required (int Correct, int Wrong)[] Answers { get; init; }
    /// <summary>Each clean prompt's text (decoded from its ids when given as ids).</summary>
    public required string[] CleanTexts { get; init; }
    /// <summary>Each clean prompt's tokens as strings (the ids as text without a tokenizer).</summary>
    public required string[][] StrTokens { get; init; }
    /// <summary>Answer tokens as strings.</summary>
    public required (string Correct, string Wrong)[] AnswerTexts { get; init; }
    /// <summary>The study's named neurons (layer, index), in the order given.</summary>
    public IReadOnlyList<NeuronId> NamedNeurons { get; init; } = [];
    /// <summary>test_prompt inputs: tokens (BOS as for the prompts), the answer's id and both as text.</summary>
    public IReadOnlyList<(string Prompt, int[] Tokens, int Answer)> TestPrompts { get; init; } = [];
    /// <summary>The group's name.</summary>
    public string Name => Group.Name;
}

/// <summary>What a study is checked against: the tokenizer (null = token ids only), the vocabulary, context and layers.</summary>
public sealed record StudyTarget(Tokenizer? Tokenizer, int VocabSize, int ContextLength, int NLayers, int BosTokenId)
{
    /// <summary>Why there is no <see cref="Tokenizer"/> (what was looked for), for the error on text prompts.</summary>
    public string MissingTokenizer { get; init; } = "the model has no tokenizer";
    /// <summary>The id that pads ragged batches: the tokenizer's pad token, else BOS.</summary>
    public int PadTokenId => Tokenizer?.PadTokenId ?? BosTokenId;
    /// <summary>Neurons per MLP layer (named neurons are checked against it); 0 = unknown.</summary>
    public int DMlp { get; init; }
    /// <summary>Heads per layer (circuit node names are checked against it); 0 = unknown.</summary>
    public int NHeads { get; init; }

    /// <summary>The target of a loaded model: its tokenizer, vocabulary, context length, layers and MLP width.</summary>
    public static StudyTarget For(HookedTransformer model) =>
        new(model.Tokenizer, model.Config.DVocab, model.Config.NCtx, model.Config.NLayers, model.Config.BosTokenId)
        {
            DMlp = model.Config.DMlp, NHeads = model.Config.NHeads, MissingTokenizer = model.MissingTokenizer ?? "",
        };

    /// <summary>GPT-2 small with the bundled tokenizer: validates a study without any weights.</summary>
    public static StudyTarget Gpt2Small => new(new Gpt2Tokenizer(), 50257, 1024, 12, Gpt2Tokenizer.EndOfText) { DMlp = 3072, NHeads = 12 };
}

/// <summary>
/// Checks a whole study before any model run and resolves it to token ids. Every problem is a one-line
/// <see cref="InvalidInputException"/> naming the group, the prompt index and what to change.
/// </summary>
public static class StudyValidation
{
    /// <summary>Checks every group, comparison and claim against <paramref name="target"/> and returns the groups as token ids.</summary>
    public static IReadOnlyList<ResolvedGroup> Resolve(Study study, StudyTarget target)
    {
        if (study.Groups.Count == 0) throw new InvalidInputException($"study '{study.Name}' has no groups: add at least one group with prompts and answers");
        if (target.Tokenizer is { } tokenizer) CheckAnswersAreSingleTokens(study, tokenizer);
        var names = new HashSet<string>();
        var result = new List<ResolvedGroup>();
        foreach (var g in study.Groups)
        {
            if (!names.Add(g.Name)) throw new InvalidInputException($"group '{g.Name}' appears twice: give each group a unique name");
            result.Add(ResolveGroup(study, g, target));
        }
        CheckComparisons(study);
        CheckClaims(study);
        study.Circuits?.Resolve(result, target);
        return result;
    }

    private static ResolvedGroup ResolveGroup(Study study, StudyGroup g, StudyTarget target)
    {
        string where = $"group '{g.Name}'";
        if (g.Prompts.Count == 0) throw new InvalidInputException($"{where} has no prompts: give at least one prompt");
        foreach (var a in g.Analyses)
            if (!StudyAnalyses.All.Contains(a))
                throw new InvalidInputException($"{where}: unknown analysis '{a}': known analyses are {string.Join(", ", StudyAnalyses.All)}");
        if (g.Has(StudyAnalyses.Patching))
        {
            if (g.Patching.Count == 0) throw new InvalidInputException($"{where}: \"patching\" is an empty list: name at least one of {string.Join(", ", SweepNames.All)}");
            foreach (var p in g.Patching)
                if (!SweepNames.All.Contains(p))
                    throw new InvalidInputException($"{where}: unknown patching sweep '{p}': known sweeps are {string.Join(", ", SweepNames.All)}");
        }
        if (g.Has(StudyAnalyses.NeuronPatching) && g.NeuronLayers.Count == 0)
            throw new InvalidInputException($"{where}: neuron_patching needs \"neuron_layers\", e.g. [8, 10]");
        foreach (int l in g.NeuronLayers)
            if (l < 0 || l >= target.NLayers)
                throw new InvalidInputException($"{where}: neuron layer {l} does not exist: the model has layers 0..{target.NLayers - 1}");
        if (g.TopNeurons < 0 || g.TopK < 1 || g.Candidates < 1)
            throw new InvalidInputException($"{where}: top_neurons must be >= 0, top_k and candidates >= 1");

        var clean = g.Prompts.Select((p, i) => Prompt(p, $"{where}, prompt {i}", target, study.PrependBos)).ToList();
        if (g.Answers.Count != g.Prompts.Count)
            throw new InvalidInputException($"{where}: {g.Answers.Count} answer pairs for {g.Prompts.Count} prompts: give one [correct, wrong] pair per prompt");
        var answers = new (int, int)[g.Prompts.Count];
        for (int i = 0; i < answers.Length; i++)
        {
            int a = Answer(g.Answers[i].Correct, $"{where}, prompt {i}", target);
            int b = Answer(g.Answers[i].Wrong, $"{where}, prompt {i}", target);
            if (a == b) throw new InvalidInputException($"{where}, prompt {i}: the correct and wrong answers are the same token {a}: the logit difference would always be 0");
            answers[i] = (a, b);
        }
        List<int[]> corrupted;
        if (g.Corrupted is null)
        {
            if (clean.Count % 2 != 0)
                throw new InvalidInputException($"{where}: \"swap_pairs\" needs an even number of prompts, got {clean.Count}: add a prompt or list \"corrupted\" explicitly");
            corrupted = Enumerable.Range(0, clean.Count).Select(i => clean[i ^ 1]).ToList();
        }
        else
        {
            if (g.Corrupted.Count != clean.Count)
                throw new InvalidInputException($"{where}: {clean.Count} prompts but {g.Corrupted.Count} corrupted prompts: give one corrupted prompt per prompt");
            corrupted = g.Corrupted.Select((p, i) => Prompt(p, $"{where}, corrupted prompt {i}", target, study.PrependBos)).ToList();
        }
        for (int i = 0; i < clean.Count; i++)
            if (clean[i].Length != corrupted[i].Length)
                throw new InvalidInputException(
                    $"{where}, prompt {i}: {clean[i].Length} tokens but its corrupted prompt{(g.Corrupted is null ? $" (prompt {i ^ 1}, swapped)" : "")} has {corrupted[i].Length}: paired prompts must have the same number of tokens for patching by position");
        if (clean.Select(c => c.Length).Distinct().Count() > 1 && (g.Has(StudyAnalyses.Comparisons) || g.Has(StudyAnalyses.Patching)))
            throw new InvalidInputException($"{where}: prompts have different lengths ({string.Join(", ", clean.Select(c => c.Length).Distinct())} tokens): by-position figures need every prompt of a group to have the same length");

        string Str(int id) => target.Tokenizer is { } t && id < t.VocabSize ? t.ToString([id]) : id.ToString();
        return new ResolvedGroup
        {
            Group = g,
            Clean = new TokenBatch(clean.Select(c => (IReadOnlyList<int>)c).ToList(), target.PadTokenId),
            Corrupted = new TokenBatch(corrupted.Select(c => (IReadOnlyList<int>)c).ToList(), target.PadTokenId),
            Answers = answers,
            CleanTexts = g.Prompts.Select((p, i) => p.Text ?? string.Join(" ", clean[i])).ToArray(),
            StrTokens = clean.Select(c => c.Select(Str).ToArray()).ToArray(),
            AnswerTexts = answers.Select(a => (Str(a.Item1), Str(a.Item2))).ToArray(),
            NamedNeurons = g.Neurons.Select((n, i) => NamedNeuron(n, $"{where}, neurons[{i}]", target)).ToList(),
            TestPrompts = g.TestPrompts.Select((t, i) => (t.Prompt.Text ?? t.Prompt.ToString(),
                Prompt(t.Prompt, $"{where}, test prompt {i}", target, study.PrependBos), Answer(t.Answer, $"{where}, test prompt {i}", target))).ToList(),
        };
    }

    /// <summary>A named neuron (<c>L8N2744</c>, or any form <see cref="NeuronId.Parse"/> reads), checked against the
    /// model's layers and MLP width.</summary>
    private static NeuronId NamedNeuron(string name, string where, StudyTarget target)
    {
        try { return NeuronId.Parse(name).RequireIn(target.NLayers, target.DMlp); }
        catch (InvalidInputException e) { throw new InvalidInputException($"{where}: {e.Message}"); }
    }

    /// <summary>
    /// Every text answer of the study (prompt answers and test prompts) must be one token under the target's tokenizer;
    /// otherwise one line lists every offending pair with its tokenization, before any group is resolved or run.
    /// </summary>
    /// <param name="study">The study whose answers are checked.</param>
    /// <param name="tok">The model's tokenizer (without one, text answers fail one by one with the missing-tokenizer error).</param>
    public static void CheckAnswersAreSingleTokens(Study study, Tokenizer tok)
    {
        string? Problem(StudyToken answer) => answer.Text is string text ? tok.SingleTokenProblem(text, out _) : null;
        var problems = new List<string>();
        foreach (var g in study.Groups)
        {
            for (int i = 0; i < g.Answers.Count; i++)
            {
                var (correct, wrong) = g.Answers[i];
                var pair = new[] { Problem(correct), Problem(wrong) }.OfType<string>().ToArray();
                if (pair.Length > 0) problems.Add($"group '{g.Name}', prompt {i} [{correct}, {wrong}]: {string.Join(" and ", pair)}");
            }
            for (int i = 0; i < g.TestPrompts.Count; i++)
                if (Problem(g.TestPrompts[i].Answer) is string p) problems.Add($"group '{g.Name}', test prompt {i}: {p}");
        }
        if (problems.Count > 0)
            throw new InvalidInputException(
                $"{problems.Count} answer pair{(problems.Count == 1 ? " is" : "s are")} not single tokens under this model's tokenizer: {string.Join("; ", problems)}: every answer must be a single token; pick answers that are one token each (mind the leading space) or give token ids");
    }

    private static int[] Prompt(StudyToken p, string where, StudyTarget target, bool? prependBos)
    {
        int[] ids;
        if (p.Text is string text)
        {
            if (text.Length == 0) throw new InvalidInputException($"{where} is an empty string: give the prompt text");
            var tok = target.Tokenizer ?? throw new InvalidInputException(
                $"{where} is text but {target.MissingTokenizer}: give prompts as token-id lists");
            ids = tok.ToTokens(text, prependBos);
        }
        else
        {
            ids = p.Ids!;
            if (ids.Length == 0) throw new InvalidInputException($"{where} is an empty token list: give at least one token id");
            CheckIds(ids, where, target);
        }
        if (ids.Length > target.ContextLength)
            throw new InvalidInputException($"{where} is {ids.Length} tokens, longer than the model's context of {target.ContextLength}: shorten it");
        return ids;
    }

    private static int Answer(StudyToken a, string where, StudyTarget target)
    {
        if (a.Text is string text)
        {
            var tok = target.Tokenizer ?? throw new InvalidInputException($"{where}: answer {a} is text but {target.MissingTokenizer}: give answers as token ids");
            if (tok.SingleTokenProblem(text, out int id) is string problem)
                throw new InvalidInputException($"{where}: answer {problem}: every answer must be a single token");
            CheckIds([id], where, target);
            return id;
        }
        if (a.Ids!.Length != 1)
            throw new InvalidInputException($"{where}: answer {a} is {a.Ids.Length} tokens: every answer must be a single token");
        CheckIds(a.Ids, where, target);
        return a.Ids[0];
    }

    private static void CheckIds(int[] ids, string where, StudyTarget target)
    {
        foreach (int id in ids)
            if (id < 0 || id >= target.VocabSize)
                throw new InvalidInputException($"{where}: token id {id} is outside the model's vocabulary (0..{target.VocabSize - 1})");
    }

    private static void CheckComparisons(Study study)
    {
        var compared = study.ComparedGroups;
        if (compared.Count == 1)
            throw new InvalidInputException($"only group '{compared[0].Name}' asks for \"comparisons\": comparisons need at least two groups");
        // Patching figures compare cell by cell when their labels do not depend on a group's tokens or neuron layers:
        // by position (columns compared by index) and per head.
        string[] known = ["logit_lens", "layer_attribution", "head_attribution", .. SweepNames.ByPosition, .. SweepNames.Heads];
        foreach (var f in study.Comparisons.Figures)
            if (!known.Contains(f))
                throw new InvalidInputException($"comparisons: unknown figure '{f}': known ones are {string.Join(", ", known)}");
        if (compared.Count > 1 && compared.Select(g => g.Prompts.Count).Distinct().Count() > 0)
            foreach (var f in study.Comparisons.Figures)
                foreach (var g in compared)
                {
                    bool has = f switch
                    {
                        "logit_lens" => g.Has(StudyAnalyses.LogitLens),
                        "layer_attribution" => g.Has(StudyAnalyses.LayerAttribution),
                        "head_attribution" => g.Has(StudyAnalyses.HeadAttribution),
                        _ => g.Has(StudyAnalyses.Patching) && g.Patching.Contains(f),
                    };
                    if (!has) throw new InvalidInputException($"comparisons: figure '{f}' is compared across groups but group '{g.Name}' does not compute it: add it to the group's analyses");
                }
        if (!(study.Comparisons.Alpha > 0 && study.Comparisons.Alpha < 1)) throw new InvalidInputException($"comparisons: alpha must be in (0, 1), got {study.Comparisons.Alpha}");
    }

    private static void CheckClaims(Study study)
    {
        for (int i = 0; i < study.Claims.Count; i++)
        {
            var c = study.Claims[i];
            if (study.Groups.All(g => g.Name != c.Group))
                throw new InvalidInputException($"claims[{i}]: unknown group '{c.Group}': groups are {string.Join(", ", study.Groups.Select(g => g.Name))}");
            if (!StudyAnalyses.ClaimKinds.Contains(c.Kind))
                throw new InvalidInputException($"claims[{i}]: unknown kind '{c.Kind}': known kinds are {string.Join(", ", StudyAnalyses.ClaimKinds)}");
            bool needsOne = c.Kind is "head_rank" or "value_over_pattern";
            if ((needsOne && c.Expect.Count != 1) || (c.Kind is "top_components" or "top_neurons" && c.Expect.Count == 0))
                throw new InvalidInputException($"claims[{i}]: a {c.Kind} claim needs {(needsOne ? "exactly one" : "at least one")} name in \"expect\"");
            if (c.Kind == "head_rank" && c.Rank is not >= 1)
                throw new InvalidInputException($"claims[{i}]: a head_rank claim needs \"rank\" (1 = the top head)");
            try { ClaimChecks.Expected(c); }
            catch (InvalidInputException e) { throw new InvalidInputException($"claims[{i}]: {e.Message}"); }
        }
    }
}
