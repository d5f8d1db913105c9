using SharpLens.Model;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Weights;

/// <summary>Conversions between the model's float row-major weights and the double matrices of the weight analyses,
/// plus the float GEMM used where a product runs over the vocabulary.</summary>
internal static class WeightMatrices
{
    /// <summary>A row-major float block [rows, cols] as a double matrix.</summary>
    public static DoubleMatrix FromRowMajor(ReadOnlySpan<float> data, int rows, int cols)
    {
        var m = new DoubleMatrix(rows, cols);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) m.Data[j * rows + i] = data[i * cols + j];
        return m;
    }

    /// <summary>A double matrix as row-major floats.</summary>
    public static float[] ToRowMajor(DoubleMatrix m)
    {
        var data = new float[m.Rows * m.Cols];
        for (int j = 0; j < m.Cols; j++)
            for (int i = 0; i < m.Rows; i++) data[i * m.Cols + j] = (float)m.Data[j * m.Rows + i];
        return data;
    }

    /// <summary>a·b in float (the fast GEMM) returned as a double matrix; for products over d_vocab.</summary>
    /// <param name="a">[m, k] row-major</param>
    /// <param name="m">rows of a</param>
    /// <param name="k">columns of a, rows of b</param>
    /// <param name="b">[k, n] row-major</param>
    /// <param name="n">columns of b</param>
    public static DoubleMatrix Product(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n)
    {
        var c = new float[m * n];
        Gemm.Multiply(a, b, c, m, k, n);
        return FromRowMajor(c, m, n);
    }

    /// <summary>Checks a head index against the model and says how to fix it.</summary>
    public static void RequireHead(HookedTransformer model, int layer, int head)
    {
        new HeadId(layer, head).RequireIn(model.Config);
    }

    /// <summary>Checks a token id against the vocabulary.</summary>
    public static void RequireToken(HookedTransformer model, int token)
    {
        if ((uint)token >= (uint)model.Config.DVocab)
            throw new InvalidInputException($"token id {token} is outside the vocabulary (0..{model.Config.DVocab - 1}): check the token ids");
    }
}
