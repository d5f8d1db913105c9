using SharpLens.Analysis;
using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tokenization;

namespace SharpLens.Neurons.Search;

/// <summary>Finds neurons: those whose top examples peak on a token or string (from the index alone), and those most
/// active on a prompt (runs the model, which must be the one the index was built for).</summary>
public static class NeuronSearch
{
    /// <summary>Neurons whose top examples peak on <paramref name="text"/> (tokenized without BOS; mind the leading space).</summary>
    /// <param name="index">The neuron index searched.</param>
    /// <param name="text">A token or string.</param>
    /// <param name="limit">How many neurons to return at most.</param>
    /// <param name="tokenizer">The indexed model's tokenizer. Without it, an index of GPT-2's 50,257-token vocabulary
    /// uses GPT-2's bundled tokenizer, and any other index finds <paramref name="text"/> only as one of its stored tokens.</param>
    public static IReadOnlyList<SearchHit> ByToken(NeuronIndex index, string text, int limit = 20, Tokenizer? tokenizer = null)
    {
        if (text.Length == 0) throw new InvalidInputException("--token is empty: give a token or string, e.g. --token \"'re\"");
        if (tokenizer is null && index.Provenance.DVocab == Gpt2Tokenizer.EndOfText + 1) tokenizer = new Gpt2Tokenizer();
        int[] ids = tokenizer?.ToTokens(text, prependBos: false) ?? [index.StoredTokenId(text) ?? throw new InvalidInputException(
            $"{Tokenizer.Quote(text)} is not one of the tokens stored in the index, and its {index.Provenance.DVocab}-token vocabulary is not GPT-2's: give --model (the model the index was built for) to tokenize it")];
        return index.SearchTokens(ids, limit);
    }

    /// <summary>
    /// The neurons of the index's layers most active on <paramref name="tokens"/> (BOS first; position 0 is skipped, as in the
    /// index): each neuron's max over positions, strongest first, with that activation relative to its max over the corpus.
    /// </summary>
    /// <param name="model">The model the index was built from (checked against its fingerprint).</param>
    /// <param name="index">The neuron index whose layers are searched.</param>
    /// <param name="tokens">[pos] the prompt's token ids.</param>
    /// <param name="limit">How many neurons to return at most.</param>
    public static IReadOnlyList<SearchHit> ByPrompt(HookedTransformer model, NeuronIndex index, int[] tokens, int limit = 20)
    {
        index.RequireModel(model);
        if (tokens.Length < 2) throw new InvalidInputException("the prompt is empty: give --prompt some text");
        var layers = index.Provenance.Layers;
        var (_, cache) = model.RunWithCache(TokenBatch.Single(tokens), layers.Select(HookNames.MlpPost), LogitsMode.None);
        var strings = model.Tokenizer?.ToStrTokens(tokens) ?? tokens.Select(t => $"<{t}>").ToArray();
        var hits = new List<SearchHit>();
        foreach (int layer in layers)
        {
            var corpusMax = index.LayerMax(layer);
            for (int n = 0; n < model.Config.DMlp; n++)
            {
                var id = new NeuronId(layer, n);
                var activations = cache.NeuronActivations(id);   // [pos]
                float best = float.NegativeInfinity; int at = 1;
                for (int p = 1; p < tokens.Length; p++)
                    if (activations[p] > best) { best = activations[p]; at = p; }
                hits.Add(new SearchHit(id, best, at, strings[at], best / corpusMax[n], 0));
            }
        }
        return hits.OrderByDescending(h => h.Activation).ThenBy(h => h.Id.Layer).ThenBy(h => h.Id.Neuron).Take(limit).ToList();
    }
}
