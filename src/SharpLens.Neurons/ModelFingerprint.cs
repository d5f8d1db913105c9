using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using SharpLens.Model;

namespace SharpLens.Neurons;

/// <summary>
/// Identifies the weights an index was built from: SHA-256 over the model's shape and every weight tensor as the model
/// uses it (after TransformerLens weight processing), in TransformerLens' parameter order. Two loads of the same
/// checkpoint give the same hash; a different checkpoint, or the same one with --raw-weights, gives another.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>Lower-case hex SHA-256 of <paramref name="model"/>'s config and weights.</summary>
    public static string Compute(HookedTransformer model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var c = model.Config;
        sha.AppendData(Encoding.UTF8.GetBytes($"{c.NLayers},{c.DModel},{c.NHeads},{c.DHead},{c.DMlp},{c.DVocab},{c.NCtx},{model.WeightsProcessed}\n"));
        foreach (var (name, tensor) in model.Weights.Named())
        {
            sha.AppendData(Encoding.UTF8.GetBytes(name + "\n"));
            sha.AppendData(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
