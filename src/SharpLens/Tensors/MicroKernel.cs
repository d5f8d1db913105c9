namespace SharpLens.Tensors;

/// <summary>
/// A register-blocked kernel: C[MR, NR] (+)= Apanel[kc, MR]ᵀ · Bpanel[kc, NR], both panels packed
/// contiguous (A as kc groups of MR row values, B as kc rows of NR values) so the inner loop is
/// pure streaming loads + FMAs. A function pointer rather than a generic parameter: one indirect
/// call per kc*MR*NR*2 flops is free, and it keeps a single non-generic driver to JIT.
/// </summary>
internal readonly unsafe struct MicroKernel
{
    public readonly int Mr;
    public readonly int Nr;
    public readonly GemmIsa Isa;
    /// <summary>How B's elements are stored (float32 for every B that is not a pre-packed 16-bit matrix).</summary>
    public readonly Dtype BType;
    /// <summary>(kc, aPanel, bPanel, ldb, c, ldc, accumulate); ldb is the B row stride in bytes: NR elements for packed B, the row length for B read in place.</summary>
    public readonly delegate*<int, float*, byte*, nint, float*, nint, bool, void> Run;

    private MicroKernel(GemmIsa isa, Dtype bType, int mr, int nr, delegate*<int, float*, byte*, nint, float*, nint, bool, void> run)
    {
        Isa = isa; BType = bType; Mr = mr; Nr = nr; Run = run;
    }

    /// <summary>Bytes per B element.</summary>
    public int BElementSize => HalfBits.Size(BType);

    public static MicroKernel For(GemmIsa isa, Dtype bType = Dtype.F32) => bType switch
    {
        Dtype.F32 => For<F32Row>(isa, bType),
        Dtype.BF16 => For<Bf16Row>(isa, bType),
        Dtype.F16 => For<F16Row>(isa, bType),
        _ => throw new ArgumentOutOfRangeException(nameof(bType), bType, "unknown storage type"),
    };

    private static MicroKernel For<TRow>(GemmIsa isa, Dtype bType) where TRow : struct, IPanelRow => isa switch
    {
        GemmIsa.Avx512 => new MicroKernel(isa, bType, Avx512Kernel.Mr, Avx512Kernel.Nr, &Avx512Kernel.Run<TRow>),
        GemmIsa.Avx2 => new MicroKernel(isa, bType, Avx2Kernel.Mr, Avx2Kernel.Nr, &Avx2Kernel.Run<TRow>),
        GemmIsa.Vector128 => new MicroKernel(isa, bType, Vector128Kernel.Mr, Vector128Kernel.Nr, &Vector128Kernel.Run<TRow>),
        GemmIsa.Scalar => new MicroKernel(isa, bType, ScalarKernel.Mr, ScalarKernel.Nr, &ScalarKernel.Run<TRow>),
        _ => For<TRow>(GemmIsaSelector.Best, bType),
    };

    /// <summary>The NR of the kernel family <paramref name="isa"/> (what a packed matrix's panels are as wide as).</summary>
    public static int NrOf(GemmIsa isa) => For(isa).Nr;
}
