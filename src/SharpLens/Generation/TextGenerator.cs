using SharpLens.Model;
using SharpLens.Tokenization;

namespace SharpLens.Generation;

/// <summary>Autoregressive generation with a KV cache: the prompt is processed once, then one position per step.</summary>
public static class TextGenerator
{
    /// <returns>The prompt's ids followed by the generated ids.</returns>
    public static int[] Generate(HookedTransformer model, IReadOnlyList<int> prompt, SamplingOptions options, Action<int>? onToken = null)
    {
        options.Validate();
        int capacity = Math.Min(model.Config.NCtx, prompt.Count + options.MaxNewTokens);
        if (prompt.Count > model.Config.NCtx)
            throw new InvalidInputException($"prompt of {prompt.Count} tokens is longer than the model's context of {model.Config.NCtx} tokens: shorten it");
        var kv = new KvCache(model.Config, 1, capacity);
        var sampler = new Sampler(options);
        var ids = new List<int>(prompt);
        var logits = model.Run(TokenBatch.Single(prompt), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
        for (int step = 0; step < options.MaxNewTokens && ids.Count < model.Config.NCtx; step++)
        {
            int next = sampler.Next(logits.Data);
            ids.Add(next);
            onToken?.Invoke(next);
            if (next == options.StopToken || ids.Count >= capacity) break;
            logits = model.Run(TokenBatch.Single([next]), new ForwardOptions { KvCache = kv, Logits = LogitsMode.Final });
        }
        return [.. ids];
    }
}
