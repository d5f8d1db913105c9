using System.Numerics.Tensors;

namespace SharpLens.Training;

/// <summary>Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it.</summary>
public static class GradientClipping
{
    /// <summary>√(Σ over every gradient of Σ g²), the norm of all gradients as one vector.</summary>
    /// <param name="gradients">each parameter's gradient, flat</param>
    public static double GlobalNorm(IEnumerable<float[]> gradients)
    {
        double sum = 0;
        foreach (var g in gradients)
        {
            double n = TensorPrimitives.Norm(g);
            sum += n * n;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>Multiplies every gradient by min(1, <paramref name="maxNorm"/> / (<paramref name="norm"/> + 1e-6));
    /// <paramref name="maxNorm"/> 0 leaves them as they are.</summary>
    /// <param name="gradients">each parameter's gradient, scaled in place</param>
    /// <param name="norm">their <see cref="GlobalNorm"/></param>
    /// <param name="maxNorm">the threshold</param>
    public static void Clip(IEnumerable<float[]> gradients, double norm, double maxNorm)
    {
        if (maxNorm <= 0) return;
        float coefficient = (float)Math.Min(1.0, maxNorm / (norm + 1e-6));
        if (coefficient >= 1) return;
        foreach (var g in gradients) TensorPrimitives.Multiply(g, coefficient, g);
    }
}
