using System.Numerics;
using SharpLens.Tensors;

namespace SharpLens.Analysis.Weights;

/// <summary>
/// TransformerLens' <c>FactoredMatrix</c>: a matrix kept as the product A·B of A [ldim, mdim] and B [mdim, rdim], so
/// that low-rank circuits such as a head's OV (W_V·W_O, [d_model, d_model] of rank d_head) or its full OV circuit
/// through the vocabulary ([d_vocab, d_vocab]) are analysed without forming the big product. Names and semantics follow
/// TransformerLens: <see cref="AB"/>, <see cref="BA"/>, <see cref="T"/>, <see cref="U"/>/<see cref="S"/>/<see cref="Vh"/>
/// (with AB = U·diag(S)·Vhᵀ, i.e. TransformerLens' <c>Vh</c> is V, not Vᵀ), <see cref="Eigenvalues"/> (of BA, which
/// are the non-zero eigenvalues of AB), <see cref="Norm"/> (Frobenius) and composition with matrices. All arithmetic is
/// in double precision; TransformerLens' leading batch dimensions are not modelled (one matrix per object).
/// </summary>
public sealed class FactoredMatrix
{
    private SingularValueDecomposition? _svd;
    private Complex[]? _eigenvalues;

    /// <summary>The factors of A·B.</summary>
    /// <param name="a">[ldim, mdim]</param>
    /// <param name="b">[mdim, rdim]</param>
    /// <exception cref="ShapeMismatchException">the inner dimensions differ.</exception>
    public FactoredMatrix(DoubleMatrix a, DoubleMatrix b)
    {
        if (a.Cols != b.Rows)
            throw new ShapeMismatchException($"FactoredMatrix factors disagree on the inner dimension: A is {a.Rows}x{a.Cols}, B is {b.Rows}x{b.Cols}");
        A = a; B = b;
    }

    /// <summary>Left factor [ldim, mdim].</summary>
    public DoubleMatrix A { get; }
    /// <summary>Right factor [mdim, rdim].</summary>
    public DoubleMatrix B { get; }
    /// <summary>Rows of the product.</summary>
    public int LDim => A.Rows;
    /// <summary>Inner (low-rank) dimension.</summary>
    public int MDim => A.Cols;
    /// <summary>Columns of the product.</summary>
    public int RDim => B.Cols;
    /// <summary>(ldim, rdim): the shape of the product.</summary>
    public (int Rows, int Cols) Shape => (LDim, RDim);

    /// <summary>The product A·B [ldim, rdim], formed explicitly (mind the size for vocabulary-sized circuits).</summary>
    public DoubleMatrix AB => A * B;

    /// <summary>B·A [mdim, mdim]: its eigenvalues are AB's non-zero ones. Needs ldim = rdim.</summary>
    public DoubleMatrix BA
    {
        get
        {
            if (LDim != RDim) throw new ShapeMismatchException($"BA needs a square product, this one is {LDim}x{RDim}");
            return B * A;
        }
    }

    /// <summary>The transpose (A·B)ᵀ = Bᵀ·Aᵀ, still factored.</summary>
    public FactoredMatrix T => new(B.Transpose(), A.Transpose());

    /// <summary>Left singular vectors [ldim, k], k = min(ldim, mdim, rdim).</summary>
    public DoubleMatrix U => Svd().U;
    /// <summary>Singular values [k], descending.</summary>
    public double[] S => Svd().S;
    /// <summary>Right singular vectors [rdim, k] (TransformerLens' <c>Vh</c>: AB = U·diag(S)·Vhᵀ).</summary>
    public DoubleMatrix Vh => Svd().V;

    /// <summary>
    /// The thin SVD of A·B without forming it (TransformerLens' <c>svd()</c>): A = Q_a·R_a and Bᵀ = Q_b·R_b (thin
    /// QR, or the identity when a factor is already short), so AB = Q_a·(R_a·R_bᵀ)·Q_bᵀ and the SVD of the small core
    /// gives U = Q_a·U_c, Vh = Q_b·V_c. Cached. Singular vectors are defined up to sign.
    /// </summary>
    public SingularValueDecomposition Svd()
    {
        if (_svd is not null) return _svd;
        var (qa, ra) = OrthogonalFactor(A);
        var (qb, rb) = OrthogonalFactor(B.Transpose());
        var core = SmallLinearAlgebra.ThinSvd(ra * rb.Transpose());
        return _svd = new SingularValueDecomposition(qa * core.U, core.S, qb * core.V);
    }

    /// <summary>Eigenvalues of the product (those of BA, [mdim]; torch.linalg.eig(BA).eigenvalues). Cached.</summary>
    public Complex[] Eigenvalues => _eigenvalues ??= SmallLinearAlgebra.Eigenvalues(BA);

    /// <summary>Frobenius norm of A·B (= √(Σ S²), TransformerLens' <c>norm()</c>), computed as ‖R_a·B‖_F without an SVD.</summary>
    public double Norm() => SmallLinearAlgebra.FrobeniusNorm(CompressedLeft());

    /// <summary>R_a·B [min(ldim, mdim), rdim] with A = Q_a·R_a: the product without its orthonormal left factor, so
    /// ‖(AB)·X‖ = ‖R_a·B·X‖ for every X. A cheaper stand-in for <see cref="CollapseL"/> (it differs from it by an
    /// orthogonal factor on the left), used by the composition scores.</summary>
    internal DoubleMatrix CompressedLeft() => A.Rows <= A.Cols ? AB : SmallLinearAlgebra.Qr(A).R * B;

    /// <summary>A·R_bᵀ [ldim, min(rdim, mdim)] with Bᵀ = Q_b·R_b: ‖X·(AB)‖ = ‖X·A·R_bᵀ‖ for every X (a cheaper
    /// stand-in for <see cref="CollapseR"/>).</summary>
    internal DoubleMatrix CompressedRight() => B.Cols <= B.Rows ? AB : A * SmallLinearAlgebra.Qr(B.Transpose()).R.Transpose();

    /// <summary>diag(S)·Vhᵀ [k, rdim]: the product with its orthonormal left factor U dropped (TransformerLens'
    /// <c>collapse_l</c>); it keeps every norm of products (this·M) that composition scores use.</summary>
    public DoubleMatrix CollapseL()
    {
        var vt = Vh.Transpose();
        for (int j = 0; j < vt.Cols; j++)
            for (int i = 0; i < vt.Rows; i++) vt[i, j] *= S[i];
        return vt;
    }

    /// <summary>U·diag(S) [ldim, k]: the product with its orthonormal right factor dropped (<c>collapse_r</c>).</summary>
    public DoubleMatrix CollapseR()
    {
        var u = U.Clone();
        for (int j = 0; j < u.Cols; j++)
            for (int i = 0; i < u.Rows; i++) u[i, j] *= S[j];
        return u;
    }

    /// <summary>The same product with balanced factors U·√S and √S·Vhᵀ (TransformerLens' <c>make_even</c>).</summary>
    public FactoredMatrix MakeEven()
    {
        var left = U.Clone();
        var right = Vh.Transpose();
        for (int k = 0; k < S.Length; k++)
        {
            double root = Math.Sqrt(S[k]);
            for (int i = 0; i < left.Rows; i++) left[i, k] *= root;
            for (int j = 0; j < right.Cols; j++) right[k, j] *= root;
        }
        return new FactoredMatrix(left, right);
    }

    /// <summary>The top-left k×k corner of A·B (TransformerLens' <c>get_corner</c>), computed from the factors.</summary>
    public DoubleMatrix GetCorner(int k = 3)
    {
        int rows = Math.Min(k, LDim), cols = Math.Min(k, RDim);
        var corner = new DoubleMatrix(rows, cols);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int m = 0; m < MDim; m++) sum += A[i, m] * B[m, j];
                corner[i, j] = sum;
            }
        return corner;
    }

    /// <summary>Row <paramref name="i"/> of A·B [rdim], computed as A[i, :]·B.</summary>
    public double[] Row(int i)
    {
        if ((uint)i >= (uint)LDim) throw new ArgumentOutOfRangeException(nameof(i), i, $"row must be in 0..{LDim - 1}");
        var row = new double[RDim];
        for (int m = 0; m < MDim; m++)
        {
            double a = A[i, m];
            if (a == 0) continue;
            for (int j = 0; j < RDim; j++) row[j] += a * B[m, j];
        }
        return row;
    }

    /// <summary>(A·B)·v = A·(B·v).</summary>
    /// <param name="v">[rdim]</param>
    /// <returns>[ldim]</returns>
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        if (v.Length != RDim) throw new ShapeMismatchException($"vector of length {v.Length} cannot multiply a {LDim}x{RDim} matrix");
        var column = new DoubleMatrix(RDim, 1);
        v.CopyTo(column.Data);
        return (A * (B * column)).Data;
    }

    /// <summary>(A·B)·M, still factored. As TransformerLens: keeps A and folds M into B when rdim &gt; mdim, else
    /// factors as (AB)·M.</summary>
    /// <param name="f">[ldim, rdim]</param>
    /// <param name="m">[rdim, n]</param>
    public static FactoredMatrix operator *(FactoredMatrix f, DoubleMatrix m)
    {
        if (m.Rows != f.RDim) throw new ShapeMismatchException($"cannot multiply a {f.LDim}x{f.RDim} factored matrix by {m.Rows}x{m.Cols}");
        return f.RDim > f.MDim ? new FactoredMatrix(f.A, f.B * m) : new FactoredMatrix(f.AB, m);
    }

    /// <summary>M·(A·B), still factored: folds M into A when ldim &gt; mdim, else factors as M·(AB).</summary>
    /// <param name="m">[n, ldim]</param>
    /// <param name="f">[ldim, rdim]</param>
    public static FactoredMatrix operator *(DoubleMatrix m, FactoredMatrix f)
    {
        if (m.Cols != f.LDim) throw new ShapeMismatchException($"cannot multiply {m.Rows}x{m.Cols} by a {f.LDim}x{f.RDim} factored matrix");
        return f.LDim > f.MDim ? new FactoredMatrix(m * f.A, f.B) : new FactoredMatrix(m, f.AB);
    }

    /// <summary>(A₁B₁)·(A₂B₂) = ((A₁B₁)·A₂)·B₂, as TransformerLens composes two factored matrices.</summary>
    public static FactoredMatrix operator *(FactoredMatrix left, FactoredMatrix right) => (left * right.A) * right.B;

    /// <inheritdoc/>
    public override string ToString() => $"FactoredMatrix: Shape({LDim}, {RDim}), Hidden Dim({MDim})";

    // M = Q·R with Q orthonormal columns: thin QR when M is tall, else Q = I and R = M (nothing to compress).
    private static (DoubleMatrix Q, DoubleMatrix R) OrthogonalFactor(DoubleMatrix m)
    {
        if (m.Rows <= m.Cols) return (DoubleMatrix.Identity(m.Rows), m);
        var qr = SmallLinearAlgebra.Qr(m);
        return (qr.ThinQ(), qr.R);
    }
}
