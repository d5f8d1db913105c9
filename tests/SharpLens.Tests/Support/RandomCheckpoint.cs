using SharpLens.Families.Gpt2;
using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Tests.Support;

/// <summary>
/// Writes a random GPT-2-shaped checkpoint folder (config.json + model.safetensors with Hugging Face's key names, the
/// GPT-2 vocabulary so text prompts work) that <c>--model FOLDER</c> loads like a real one: the inverse of
/// <see cref="Gpt2WeightMap"/> applied to <see cref="RandomWeights.Create"/>.
/// </summary>
public static class RandomCheckpoint
{
    /// <summary>A tiny model with the GPT-2 vocabulary: 2 layers, 4 heads of 8, d_mlp 64, context 64.</summary>
    public static readonly ModelConfig Tiny = new() { NLayers = 2, DModel = 32, NHeads = 4, DHead = 8, DMlp = 64, DVocab = 50257, NCtx = 64 };

    /// <summary>Writes the checkpoint into <paramref name="dir"/> (created) and returns it.</summary>
    public static string Write(string dir, ModelConfig? config = null, int seed = 1, float std = 0.1f)
    {
        var cfg = config ?? Tiny;
        var w = RandomWeights.Create(cfg, seed, std);
        int d = cfg.DModel, h = cfg.NHeads, dh = cfg.DHead;
        var tensors = new List<(string, Tensor)> { ("transformer.wte.weight", w.W_E), ("transformer.wpe.weight", w.W_pos!) };
        for (int l = 0; l < cfg.NLayers; l++)
        {
            var b = w.Blocks[l];
            var cAttn = Tensor.Zeros(d, 3 * d);
            var cAttnBias = Tensor.Zeros(3 * d);
            Tensor[] parts = [b.W_Q, b.W_K, b.W_V], biases = [b.b_Q, b.b_K, b.b_V];
            for (int part = 0; part < 3; part++)
                for (int head = 0; head < h; head++)
                    for (int j = 0; j < dh; j++)
                    {
                        int col = part * d + head * dh + j;
                        cAttnBias.Data[col] = biases[part].Data[head * dh + j];
                        for (int i = 0; i < d; i++) cAttn.Data[i * 3 * d + col] = parts[part].Data[(head * d + i) * dh + j];
                    }
            string p = $"transformer.h.{l}.";
            tensors.AddRange([
                (p + "ln_1.weight", b.Ln1W!), (p + "ln_1.bias", b.Ln1B!), (p + "attn.c_attn.weight", cAttn), (p + "attn.c_attn.bias", cAttnBias),
                (p + "attn.c_proj.weight", new Tensor(b.W_O.Data, d, d)), (p + "attn.c_proj.bias", b.b_O),
                (p + "ln_2.weight", b.Ln2W!), (p + "ln_2.bias", b.Ln2B!), (p + "mlp.c_fc.weight", b.W_in!), (p + "mlp.c_fc.bias", b.b_in!),
                (p + "mlp.c_proj.weight", b.W_out!), (p + "mlp.c_proj.bias", b.b_out!)]);
        }
        tensors.Add(("transformer.ln_f.weight", w.LnFinalW!));
        tensors.Add(("transformer.ln_f.bias", w.LnFinalB!));
        Directory.CreateDirectory(dir);
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        var config_ = new Gpt2Config { NLayer = cfg.NLayers, NHead = cfg.NHeads, NEmbd = d, NPositions = cfg.NCtx, VocabSize = cfg.DVocab, NInner = cfg.DMlp };
        File.WriteAllText(Path.Combine(dir, "config.json"), config_.ToJson());
        return dir;
    }

    /// <summary>A shared tiny checkpoint under the temp folder, written once per test run.</summary>
    public static string Shared => shared.Value;
    static readonly Lazy<string> shared = new(() => Write(Path.Combine(Path.GetTempPath(), $"sharplens-random-gpt2-{Environment.ProcessId}")));
}
