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
    /// <summary>(kc, aPanel, bPanel, ldb, c, ldc, accumulate); ldb = NR for packed B, the row length for B read in place.</summary>
    public readonly delegate*<int, float*, float*, nint, float*, nint, bool, void> Run;

    public MicroKernel(GemmIsa isa, int mr, int nr, delegate*<int, float*, float*, nint, float*, nint, bool, void> run)
    {
        Isa = isa; Mr = mr; Nr = nr; Run = run;
    }

    public static MicroKernel For(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => new MicroKernel(isa, Avx512Kernel.Mr, Avx512Kernel.Nr, &Avx512Kernel.Run),
        GemmIsa.Avx2 => new MicroKernel(isa, Avx2Kernel.Mr, Avx2Kernel.Nr, &Avx2Kernel.Run),
        GemmIsa.Vector128 => new MicroKernel(isa, Vector128Kernel.Mr, Vector128Kernel.Nr, &Vector128Kernel.Run),
        GemmIsa.Scalar => new MicroKernel(isa, ScalarKernel.Mr, ScalarKernel.Nr, &ScalarKernel.Run),
        _ => For(GemmIsaSelector.Best),
    };
}
