using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using SharpLens.Tensors;

namespace SharpLens.Model.Components;

/// <summary>
/// The MLP activation functions, by TransformerLens' act_fn name, with their derivatives for the backward pass:
/// gelu_new (= gelu_fast = Hugging Face's gelu_pytorch_tanh: the tanh approximation), gelu (exact: 0.5·x·(1 + erf(x/√2))),
/// silu (x·sigmoid(x)) and relu.
/// </summary>
internal sealed class Activation
{
    private readonly Kind _kind;

    private enum Kind { GeluTanh, GeluErf, Silu, Relu }

    /// <summary>The activation named <paramref name="name"/> (one of <see cref="ModelConfig.SupportedActivations"/>).</summary>
    public Activation(string name)
    {
        Name = name;
        _kind = name switch
        {
            "gelu_new" or "gelu_fast" or "gelu_pytorch_tanh" => Kind.GeluTanh,
            "gelu" => Kind.GeluErf,
            "silu" => Kind.Silu,
            "relu" => Kind.Relu,
            _ => throw new InvalidCheckpointException($"activation '{name}' is not supported: use one of {string.Join(", ", ModelConfig.SupportedActivations)}"),
        };
    }

    /// <summary>The act_fn name.</summary>
    public string Name { get; }

    /// <summary>y = act(x) element by element (<paramref name="y"/> may be <paramref name="x"/>).</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        switch (_kind)
        {
            case Kind.GeluTanh: Kernels.GeluNew(x, y); break;
            case Kind.Silu:
                for (int i = 0; i < x.Length; i++) y[i] = x[i] / (1f + MathF.Exp(-x[i]));
                break;
            case Kind.Relu: TensorPrimitives.Max(x, 0f, y); break;
            default:
                for (int i = 0; i < x.Length; i++) y[i] = (float)GeluErf(x[i]);
                break;
        }
    }

    /// <summary>act'(x).</summary>
    public float Derivative(float x) => _kind switch
    {
        Kind.GeluTanh => Kernels.GeluNewGrad(x),
        Kind.Silu => Silu(x),
        Kind.Relu => x > 0 ? 1f : 0f,
        _ => (float)(0.5 * (1 + Erf(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI)),
    };

    /// <summary>dx = dy ∘ act'(x) element by element (the MLP's backward step; gelu_new in one vector pass).</summary>
    /// <param name="x">the activation's input [n]</param>
    /// <param name="dy">d/d its output [n]</param>
    /// <param name="dx">[n] written (may be <paramref name="dy"/> itself)</param>
    public void MultiplyDerivative(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        if (_kind == Kind.GeluTanh) Kernels.MultiplyGeluNewGrad(x, dy, dx);
        else for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * Derivative(x[i]);
    }

    private static float Silu(float x)
    {
        float s = 1f / (1f + MathF.Exp(-x));
        return s * (1 + x * (1 - s));
    }

    private static double GeluErf(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf(x) to about 1e-7 absolute (Abramowitz and Stegun 7.1.26, evaluated in double): well under float
    /// rounding of the gelu values it feeds.</summary>
    internal static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return x < 0 ? -y : y;
    }
}
