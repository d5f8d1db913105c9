using SharpLens.Model;
using SharpLens.Model.Hooks;
using SharpLens.Tensors;
using SharpLens.Tokenization;

namespace SharpLens.Circuits;

/// <summary>
/// The output of every upstream node of a <see cref="CircuitGraph"/> in one run: <c>input</c> = hook_embed +
/// hook_pos_embed (= blocks.0.hook_resid_pre), <c>a{l}.h{h}</c> = hook_result[:, :, h] (z_h·W_O[h], without b_O),
/// <c>m{l}</c> = hook_mlp_out. Stored as one contiguous [n_forward, batch·pos·d_model] array so that sums over
/// upstream nodes are one GEMM.
/// </summary>
public sealed class NodeOutputs
{
    /// <summary>Wraps <paramref name="data"/> [n_forward, batch·pos·d_model].</summary>
    public NodeOutputs(float[] data, int nForward, int batch, int pos, int dModel)
    {
        if (data.Length != (long)nForward * batch * pos * dModel)
            throw new ShapeMismatchException($"node outputs: expected {nForward} x {batch} x {pos} x {dModel} values, got {data.Length}");
        Data = data; NForward = nForward; Batch = batch; Pos = pos; DModel = dModel;
    }

    /// <summary>[n_forward, batch·pos·d_model]</summary>
    public float[] Data { get; }
    /// <summary>Number of upstream nodes.</summary>
    public int NForward { get; }
    /// <summary>Prompts.</summary>
    public int Batch { get; }
    /// <summary>Positions (padded length).</summary>
    public int Pos { get; }
    /// <summary>Residual width.</summary>
    public int DModel { get; }
    /// <summary>batch·pos·d_model: the length of one node's output.</summary>
    public int NodeLength => Batch * Pos * DModel;

    /// <summary>One node's output [batch·pos·d_model].</summary>
    public Span<float> Node(int forwardIndex) => Data.AsSpan(forwardIndex * NodeLength, NodeLength);

    /// <summary>The hooks a forward pass must cache for <see cref="FromCache"/>.</summary>
    public static IEnumerable<string> RequiredHooks(int nLayers) =>
        new[] { HookNames.ResidPre(0) }.Concat(Enumerable.Range(0, nLayers).SelectMany(l => new[] { HookNames.Result(l), HookNames.MlpOut(l) }));

    /// <summary>Reads every node's output from a cache holding <see cref="RequiredHooks"/>.</summary>
    public static NodeOutputs FromCache(CircuitGraph graph, ActivationCache cache)
    {
        var input = cache[HookNames.ResidPre(0)];
        int batch = input.Dim(0), pos = input.Dim(1), d = input.Dim(2), rows = batch * pos;
        var outputs = new NodeOutputs(new float[(long)graph.NForward * rows * d], graph.NForward, batch, pos, d);
        input.Data.CopyTo(outputs.Node(0));
        for (int l = 0; l < graph.NLayers; l++)
        {
            var result = cache[HookNames.Result(l)];                 // [batch, pos, n_heads, d_model]
            for (int h = 0; h < graph.NHeads; h++)
            {
                var dst = outputs.Node(graph.HeadForward(l, h));
                for (int r = 0; r < rows; r++)
                    result.Data.AsSpan((r * graph.NHeads + h) * d, d).CopyTo(dst.Slice(r * d, d));
            }
            cache[HookNames.MlpOut(l)].Data.CopyTo(outputs.Node(graph.MlpForward(l)));
        }
        return outputs;
    }

    /// <summary>Runs <paramref name="model"/> on <paramref name="tokens"/> and returns every node's output.</summary>
    public static NodeOutputs Run(HookedTransformer model, CircuitGraph graph, TokenBatch tokens)
    {
        var (_, cache) = model.RunWithCache(tokens, RequiredHooks(model.Config.NLayers), LogitsMode.None);
        return FromCache(graph, cache);
    }

    /// <summary>this − <paramref name="other"/>, node by node: [n_forward, batch·pos·d_model].</summary>
    public float[] Minus(NodeOutputs other)
    {
        if (other.Data.Length != Data.Length)
            throw new ShapeMismatchException($"node outputs of {Batch}x{Pos} and {other.Batch}x{other.Pos} runs cannot be compared: pad both batches to the same length");
        var diff = GC.AllocateUninitializedArray<float>(Data.Length);
        System.Numerics.Tensors.TensorPrimitives.Subtract(Data, other.Data, diff);
        return diff;
    }
}
