using SharpLens.Loading;
using SharpLens.Model;
using SharpLens.Tensors;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Model;

/// <summary>
/// refactor_factored_attn_matrices: outputs and per-head circuits unchanged, factors even (TransformerLens'
/// make_even), b_V folded; and the QR / SVD helpers it is built on.
/// </summary>
public class RefactorAttentionTests
{
    private const double Tol = 1e-4;

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var m in new[] { "tiny-a", "tiny-b" }) { data.Add(m, true); data.Add(m, false); }
        return data;
    }

    // Base processing: TransformerLens' defaults, or none (raw weights: b_V nonzero, LayerNorms unfolded).
    private static WeightProcessingOptions Base(bool processed) => processed ? WeightProcessingOptions.Default : WeightProcessingOptions.None;

    private static (HookedTransformer Before, HookedTransformer After) Load(string fixture, bool processed) => (
        ModelLoader.Load(Fixtures.Folder(fixture), new LoadOptions { Processing = Base(processed) }),
        ModelLoader.Load(Fixtures.Folder(fixture), new LoadOptions { Processing = Base(processed) with { RefactorFactoredAttnMatrices = true } }));

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsAreUnchanged(string fixture, bool processed)
    {
        var (before, after) = Load(fixture, processed);
        var tokens = Fixtures.Tokens(fixture);
        TensorAssert.Close(before.Forward(tokens.CleanBatch), after.Forward(tokens.CleanBatch), $"{fixture} logits", (float)Tol);
        TensorAssert.Close(before.Forward(tokens.CorruptedBatch), after.Forward(tokens.CorruptedBatch), $"{fixture} corrupted logits", (float)Tol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PerHeadCircuitsAreUnchanged(string fixture, bool processed)
    {
        var (before, after) = Load(fixture, processed);
        for (int l = 0; l < before.Weights.Blocks.Length; l++)
        {
            BlockWeights b = before.Weights.Blocks[l], a = after.Weights.Blocks[l];
            for (int h = 0; h < b.W_Q.Dim(0); h++)
            {
                AssertClose(QkEff(b, h), QkEff(a, h), $"L{l}H{h} W_Q_eff·W_K_effᵀ");
                AssertClose(Ov(b, h), Ov(a, h), $"L{l}H{h} W_V·W_O");
            }
            // b_O absorbs b_V·W_O (already folded under the defaults, so then it is unchanged).
            var expectedBO = b.b_O.Data.Select(x => (double)x).ToArray();
            for (int h = 0; h < b.W_O.Dim(0); h++)
            {
                var wo = Head(b.W_O, h);
                for (int j = 0; j < wo.Rows; j++)
                    for (int i = 0; i < wo.Cols; i++) expectedBO[i] += (double)b.b_V[h, j] * wo[j, i];
            }
            for (int i = 0; i < expectedBO.Length; i++)
                Assert.True(Math.Abs(expectedBO[i] - a.b_O.Data[i]) <= Tol, $"L{l} b_O[{i}]: {a.b_O.Data[i]}, expected {expectedBO[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FactorsAreEven(string fixture, bool processed)
    {
        var (before, after) = Load(fixture, processed);
        for (int l = 0; l < after.Weights.Blocks.Length; l++)
        {
            BlockWeights b = before.Weights.Blocks[l], a = after.Weights.Blocks[l];
            for (int h = 0; h < a.W_Q.Dim(0); h++)
            {
                // QK: A = W_Q_eff [d+1, dh], B = W_K_effᵀ [dh, d+1] (TransformerLens' FactoredMatrix(A, B)).
                var qEff = QEff(a.W_Q, a.b_Q, h);
                var kEff = QEff(a.W_K, a.b_K, h);
                AssertEven(qEff.Transpose() * qEff, kEff.Transpose() * kEff, SingularValues(QkEff(b, h)), $"L{l}H{h} QK");
                // OV: A = W_V [d, dh], B = W_O [dh, d].
                var v = Head(a.W_V, h);
                var o = Head(a.W_O, h);
                AssertEven(v.Transpose() * v, o * o.Transpose(), SingularValues(Ov(b, h)), $"L{l}H{h} OV");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ValueBiasIsZero(string fixture, bool processed)
    {
        var (_, after) = Load(fixture, processed);
        foreach (var block in after.Weights.Blocks) Assert.All(block.b_V.Data, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void OffByDefault()
    {
        Assert.False(WeightProcessingOptions.Default.RefactorFactoredAttnMatrices);
        Assert.False(WeightProcessingOptions.None.RefactorFactoredAttnMatrices);
        Assert.True((WeightProcessingOptions.None with { RefactorFactoredAttnMatrices = true }).Any);
    }

    // AᵀA = B·Bᵀ = diag(σ), σ descending = the product's singular values.
    private static void AssertEven(DoubleMatrix aTa, DoubleMatrix bbT, double[] productSigma, string what)
    {
        AssertClose(aTa, bbT, $"{what}: AᵀA vs B·Bᵀ");
        int k = aTa.Rows;
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++)
                if (i != j) Assert.True(Math.Abs(aTa[i, j]) <= Tol, $"{what}: AᵀA[{i},{j}] = {aTa[i, j]} is not diagonal");
            Assert.True(Math.Abs(aTa[i, i] - productSigma[i]) <= Tol * Math.Max(1, productSigma[0]),
                $"{what}: AᵀA[{i},{i}] = {aTa[i, i]}, singular value {productSigma[i]}");
            if (i > 0) Assert.True(aTa[i, i] <= aTa[i - 1, i - 1] + Tol, $"{what}: diagonal not descending at {i}");
        }
    }

    // The product's top-k singular values, from a direct SVD of the full matrix.
    private static double[] SingularValues(DoubleMatrix product) => SmallLinearAlgebra.Svd(product).S;

    private static DoubleMatrix QkEff(BlockWeights w, int h)
    {
        var q = QEff(w.W_Q, w.b_Q, h);
        var k = QEff(w.W_K, w.b_K, h);
        return q * k.Transpose();
    }

    private static DoubleMatrix Ov(BlockWeights w, int h) => Head(w.W_V, h) * Head(w.W_O, h);

    // [d+1, dh]: weight[h] with bias[h] as the last row.
    private static DoubleMatrix QEff(Tensor weight, Tensor bias, int h)
    {
        var m = Head(weight, h);
        var eff = new DoubleMatrix(m.Rows + 1, m.Cols);
        for (int i = 0; i < m.Rows; i++)
            for (int j = 0; j < m.Cols; j++) eff[i, j] = m[i, j];
        for (int j = 0; j < m.Cols; j++) eff[m.Rows, j] = bias[h, j];
        return eff;
    }

    // t[h] as a [Dim(1), Dim(2)] matrix.
    private static DoubleMatrix Head(Tensor t, int h)
    {
        var m = new DoubleMatrix(t.Dim(1), t.Dim(2));
        for (int i = 0; i < m.Rows; i++)
            for (int j = 0; j < m.Cols; j++) m[i, j] = t[h, i, j];
        return m;
    }

    private static void AssertClose(DoubleMatrix expected, DoubleMatrix actual, string what, double tol = Tol)
    {
        Assert.Equal((expected.Rows, expected.Cols), (actual.Rows, actual.Cols));
        for (int j = 0; j < expected.Cols; j++)
            for (int i = 0; i < expected.Rows; i++)
                Assert.True(Math.Abs(expected[i, j] - actual[i, j]) <= tol, $"{what}[{i},{j}]: {actual[i, j]}, expected {expected[i, j]}");
    }

    // ---- the small linear-algebra helpers ----

    private static DoubleMatrix Random(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var m = new DoubleMatrix(rows, cols);
        for (int i = 0; i < m.Data.Length; i++)
            m.Data[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return m;
    }

    // rank r: (rows×r)·(r×cols); plus an all-zero column in the middle when there is room.
    private static DoubleMatrix RankDeficient(int rows, int cols, int rank, int seed)
    {
        var m = Random(rows, rank, seed) * Random(rank, cols, seed + 1);
        if (cols > 2) m.Column(cols / 2).Clear();
        return m;
    }

    public static TheoryData<int, int, int> Shapes() => new()
    {
        // rows, cols, rank (= cols: full rank)
        { 1, 1, 1 }, { 5, 5, 5 }, { 7, 4, 4 }, { 40, 8, 8 }, { 65, 64, 64 },
        { 7, 4, 2 }, { 40, 8, 3 }, { 65, 64, 10 }, { 6, 6, 1 }, { 9, 5, 0 },
    };

    private static DoubleMatrix Make(int rows, int cols, int rank, int seed) =>
        rank == cols ? Random(rows, cols, seed) : RankDeficient(rows, cols, rank, seed);

    private static void AssertOrthonormalColumns(DoubleMatrix q, string what)
    {
        var gram = q.Transpose() * q;
        AssertClose(DoubleMatrix.Identity(q.Cols), gram, what + " QᵀQ", 1e-12);
    }

    private static double Scale(DoubleMatrix a) => Math.Max(1, a.Data.Max(Math.Abs));

    [Theory]
    [MemberData(nameof(Shapes))]
    public void QrReconstructs(int rows, int cols, int rank)
    {
        var a = Make(rows, cols, rank, seed: rows * 100 + cols * 10 + rank);
        var qr = SmallLinearAlgebra.Qr(a);
        var q = qr.ThinQ();
        Assert.Equal((rows, cols), (q.Rows, q.Cols));
        Assert.Equal((cols, cols), (qr.R.Rows, qr.R.Cols));
        AssertOrthonormalColumns(q, "QR");
        for (int j = 0; j < cols; j++)
            for (int i = j + 1; i < cols; i++) Assert.Equal(0, qr.R[i, j]);
        AssertClose(a, q * qr.R, "Q·R", 1e-12 * Scale(a) * rows);
        // MultiplyQ(Y) is Q·Y.
        var y = Random(cols, 3, 7);
        AssertClose(q * y, qr.MultiplyQ(y), "MultiplyQ", 1e-12 * rows);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SvdReconstructs(int rows, int cols, int rank)
    {
        var a = Make(rows, cols, rank, seed: rows * 100 + cols * 10 + rank + 1);
        var svd = SmallLinearAlgebra.Svd(a);
        Assert.Equal((rows, cols), (svd.U.Rows, svd.U.Cols));
        Assert.Equal((cols, cols), (svd.V.Rows, svd.V.Cols));
        AssertOrthonormalColumns(svd.U, "U");
        AssertOrthonormalColumns(svd.V, "V");
        for (int i = 0; i < cols; i++)
        {
            Assert.True(svd.S[i] >= 0);
            if (i > 0) Assert.True(svd.S[i] <= svd.S[i - 1], $"S not descending at {i}");
        }
        var us = svd.U.Clone();
        for (int j = 0; j < cols; j++)
            for (int i = 0; i < rows; i++) us[i, j] *= svd.S[j];
        AssertClose(a, us * svd.V.Transpose(), "U·S·Vᵀ", 1e-12 * Scale(a) * rows);
        // Rank-deficient: the trailing singular values vanish.
        for (int i = rank; i < cols; i++)
            Assert.True(svd.S[i] <= 1e-12 * Math.Max(1, svd.S[0]), $"S[{i}] = {svd.S[i]} for a rank-{rank} matrix");
        if (rank > 0) Assert.True(svd.S[rank - 1] > 1e-6);
    }

    [Fact]
    public void SvdFindsKnownSingularValues()
    {
        // Q₁·diag(5, 3, 3, 0)·Q₂ᵀ with random orthogonal Q's (repeated and zero singular values).
        var q1 = SmallLinearAlgebra.Qr(Random(6, 4, 1)).ThinQ();
        var q2 = SmallLinearAlgebra.Qr(Random(4, 4, 2)).ThinQ();
        double[] sigma = [5, 3, 3, 0];
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 6; i++) q1[i, j] *= sigma[j];
        var svd = SmallLinearAlgebra.Svd(q1 * q2.Transpose());
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(svd.S[i] - sigma[i]) <= 1e-12, $"S[{i}] = {svd.S[i]}");
    }

    [Theory]
    [InlineData(9, 7, 4, 4)]
    [InlineData(33, 33, 8, 8)]
    [InlineData(12, 20, 5, 2)]    // rank-deficient product
    public void MakeEvenKeepsTheProductAndBalancesTheFactors(int m, int n, int k, int rank)
    {
        var left = Random(m, k, m);
        var right = Random(n, k, n);
        if (rank < k) right = Random(n, rank, 3) * Random(rank, k, 4);
        var (a, b, s) = FactoredAttention.MakeEven(left, right);
        AssertClose(left * right.Transpose(), a * b.Transpose(), "A·Bᵀ", 1e-11);
        var ata = a.Transpose() * a;
        AssertClose(ata, b.Transpose() * b, "AᵀA vs BᵀB", 1e-11);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) Assert.True(Math.Abs(ata[i, j] - (i == j ? s[i] : 0)) <= 1e-11, $"AᵀA[{i},{j}]");
        var direct = SmallLinearAlgebra.Svd(left * right.Transpose() is var p && p.Rows >= p.Cols ? p : p.Transpose()).S;
        for (int i = 0; i < k; i++) Assert.True(Math.Abs(direct[i] - s[i]) <= 1e-11 * Math.Max(1, s[0]), $"S[{i}]");
    }

    [Fact]
    public void InvalidInputsAreRejected()
    {
        Assert.Throws<ShapeMismatchException>(() => SmallLinearAlgebra.Qr(new DoubleMatrix(2, 3)));
        Assert.Throws<ShapeMismatchException>(() => SmallLinearAlgebra.Svd(new DoubleMatrix(2, 3)));
        Assert.Throws<ShapeMismatchException>(() => FactoredAttention.MakeEven(new DoubleMatrix(5, 2), new DoubleMatrix(5, 3)));
        Assert.Throws<ShapeMismatchException>(() => FactoredAttention.MakeEven(new DoubleMatrix(2, 3), new DoubleMatrix(5, 3)));
        var nan = new DoubleMatrix(2, 2) { [0, 1] = double.NaN };
        Assert.Throws<ArgumentException>(() => SmallLinearAlgebra.Svd(nan));

        var weights = RandomWeights.Create(new ModelConfig { NLayers = 1, DModel = 4, NHeads = 1, DHead = 4, DMlp = 4, DVocab = 5, NCtx = 3 }, seed: 1);
        weights.Blocks[0].W_Q.Data[0] = float.NaN;
        Assert.Throws<ArgumentException>(() => FactoredAttention.Refactor(weights));
        var wide = RandomWeights.Create(new ModelConfig { NLayers = 1, DModel = 4, NHeads = 1, DHead = 5, DMlp = 4, DVocab = 5, NCtx = 3 }, seed: 1);
        Assert.Throws<ShapeMismatchException>(() => FactoredAttention.Refactor(wide));
    }
}
