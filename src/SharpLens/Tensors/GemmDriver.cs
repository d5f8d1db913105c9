using System.Runtime.CompilerServices;

namespace SharpLens.Tensors;

/// <summary>
/// The BLIS-style loop nest around a micro-kernel: columns in NC blocks, depth in KC blocks (so a
/// B micro-panel, kc x NR, stays in L1 while A micro-panels stream from L2), rows in MC blocks
/// (the packed A block, mc x kc, stays in L2). Threads split the dimension with more tiles: a row
/// split gives each core an equal static share (each packs its own B, so more shares would repack
/// B); a column split packs A once for everyone and hands out column chunks on demand. All sizes
/// are in elements.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Depth block: kc*NR*4 bytes = 32 KiB of B micro-panel for the 32-wide kernel, inside a 48 KiB L1.</summary>
    internal const int Kc = 256;
    /// <summary>Row block: a 256 x 256 packed A block is 256 KiB, well inside a 2 MiB L2.</summary>
    internal const int McTarget = 256;
    /// <summary>Column block for B packed on the fly: kc x 768 is 768 KiB, sharing L2 with the A block.</summary>
    internal const int NcTarget = 768;
    /// <summary>Below this many multiply-adds (~10 µs of one core) waking a second thread costs more than it saves.</summary>
    internal const long ParallelThreshold = 1L << 21;
    /// <summary>
    /// A plain (untransposed) raw B is read in place instead of packed when a thread's share has at
    /// most this many rows: with few row tiles each B micro-panel is reused too little to repay
    /// copying it, and packing all of B dominated small-m calls. Above it, packing wins because a
    /// strided B panel (row stride n*4 bytes, often a multiple of 4 KiB) aliases into few L1 sets.
    /// </summary>
    internal static int DirectBMaxRows = 32;
    /// <summary>
    /// Bytes of packed A a panel-major row block shares (see <see cref="Job.PackedPanelMajor"/>): 4 MiB sits in L3 and
    /// is read once per B panel at a few bytes per cycle; bigger m runs several row blocks, streaming B once each.
    /// Settable so that tests can force several row blocks on small shapes.
    /// </summary>
    internal static int PanelMajorABytes { get => PanelMajorALimit.Value ?? DefaultPanelMajorABytes; set => PanelMajorALimit.Value = value; }

    private const int DefaultPanelMajorABytes = 4 << 20;
    // A test knob per logical call context (see GemmIsaSelector.ForcedIsa): never changes other callers' GEMMs.
    private static readonly AsyncLocal<int?> PanelMajorALimit = new();

    /// <summary>A shared packed A of at most this many floats (128 KiB) is packed by the calling thread alone.</summary>
    internal const long SerialPackAFloats = 1 << 15;

    /// <summary>
    /// B is either raw float32 (<paramref name="bPacked"/> false: [k, n] or [n, k] when transposed, packed
    /// per block here) or a whole-K pre-packed <see cref="PackedMatrix"/> buffer in
    /// <paramref name="kernel"/>'s layout and storage type: panel j at j*k*NR, depth p of it at +p*NR elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* a, bool transposeA, void* b, bool transposeB, bool bPacked,
        float* c, int m, int k, int n, bool accumulate, in MicroKernel kernel, float* bias = null)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) new Span<float>(c, checked(m * n)).Clear();
            return;
        }

        var job = new Job
        {
            DirectB = !bPacked && !transposeB,
            A = a, B = (byte*)b, C = c, M = m, K = k, N = n,
            TransposeA = transposeA, TransposeB = transposeB, BPacked = bPacked, Accumulate = accumulate,
            Kernel = kernel,
        };

        int rowTiles = (m + kernel.Mr - 1) / kernel.Mr;
        int colPanels = (n + kernel.Nr - 1) / kernel.Nr;
        int parts = (long)m * n * k < ParallelThreshold ? 1 : GemmThreadPool.Parallelism;
        // Split the dimension with more tiles: splitting n halves the B traffic per core (what
        // dominates at small m with big weights), splitting m halves A's.
        job.SplitColumns = colPanels >= rowTiles;
        parts = Math.Min(parts, job.SplitColumns ? colPanels : rowTiles);
        job.Parts = parts;
        // Panel-major order (see PackedPanelMajor) needs pre-packed B and the shared packed A of a column split;
        // it also adds the bias while each panel's C is in L1.
        job.PanelMajor = bPacked && job.SplitColumns && parts > 1;
        job.Bias = job.PanelMajor ? bias : null;
        if (!job.PanelMajor && bias != null)
        {
            MultiplyNoBias(job, parts);
            for (int r = 0; r < m; r++)
                Kernels.AddBiasRows(new Span<float>(c + (nint)r * n, n), new ReadOnlySpan<float>(bias, n));
            return;
        }
        MultiplyNoBias(job, parts);
    }

    private static void MultiplyNoBias(Job job, int parts)
    {
        if (parts <= 1) { job.Execute(0); return; }
        if (!job.SplitColumns) { GemmThreadPool.Run(parts, job); return; }
        int m = job.M, k = job.K, mr = job.Kernel.Mr;
        int colPanels = (job.N + job.Kernel.Nr - 1) / job.Kernel.Nr;
        // Panel-major: rows in blocks whose packed A fits PanelMajorABytes; otherwise all rows at once.
        // A multiple of MR: the packed A of a block is MPad (rows rounded up to MR) x k floats.
        int allRows = (m + mr - 1) / mr * mr;
        int rowBlock = job.PanelMajor ? Math.Min(allRows, Math.Max(mr, PanelMajorABytes / sizeof(float) / k / mr * mr)) : allRows;

        // Column split: pack A (a row block of it) once, shared, then let the threads claim column chunks.
        // Claiming (instead of fixed halves) matters on a shared machine: when one core is
        // preempted the other finishes its chunks rather than idling at the join, and it costs
        // nothing extra because A is no longer packed per thread.
        float[] shared = SharedA.Rent((long)rowBlock * k + 16);
        try
        {
            fixed (float* sa = shared)
            {
                job.SharedA = (float*)(((nint)sa + 63) & ~(nint)63);
                // ~4 chunks per thread: enough to rebalance, few enough that each chunk's B micro-panels
                // still get reused across all of m.
                job.ChunkPanels = Math.Max(1, (colPanels + parts * 4 - 1) / (parts * 4));
                job.Chunks = (colPanels + job.ChunkPanels - 1) / job.ChunkPanels;
                for (int r0 = 0; r0 < m; r0 += rowBlock)
                {
                    job.RowStart = r0;
                    job.RowEnd = Math.Min(m, r0 + rowBlock);
                    job.MPad = (job.RowEnd - r0 + mr - 1) / mr * mr;
                    job.Phase = JobPhase.PackA;
                    // A few rows' A (the 1-64-row GEMMs of prompt-at-a-time and patching passes) is packed in a few
                    // microseconds: the caller packs it alone rather than hand half of it to a worker.
                    if ((long)job.MPad * k <= SerialPackAFloats)
                        for (int part = 0; part < parts; part++) job.Execute(part);
                    else
                        GemmThreadPool.Run(parts, job);
                    job.NextChunk = 0;
                    job.Phase = JobPhase.Compute;
                    GemmThreadPool.Run(parts, job);
                }
            }
        }
        finally
        {
            SharedA.Return(shared);
        }
    }

    private enum JobPhase { Static, PackA, Compute }

    /// <summary>One cached pinned buffer for the shared packed A (1.5 MiB at 512 x 768), so big calls don't allocate.</summary>
    private static class SharedA
    {
        private static float[]? _cached;

        public static float[] Rent(long floats)
        {
            var buf = Interlocked.Exchange(ref _cached, null);
            return buf != null && buf.Length >= floats ? buf : GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
        }

        public static void Return(float[] buf) => Volatile.Write(ref _cached, buf);
    }

    private sealed class Job : IGemmParallelJob
    {
        public float* A, C, SharedA, Bias;
        /// <summary>Raw float32 B, or packed panels in the kernel's storage type (hence bytes).</summary>
        public byte* B;
        public int M, K, N, Parts, MPad, ChunkPanels, Chunks;
        /// <summary>The row block [RowStart, RowEnd) whose A the shared buffer holds (shared A only).</summary>
        public int RowStart, RowEnd;
        public int NextChunk;
        public JobPhase Phase;
        public bool TransposeA, TransposeB, BPacked, Accumulate, SplitColumns, DirectB, PanelMajor;
        public MicroKernel Kernel;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            int mr = Kernel.Mr, nr = Kernel.Nr;
            if (Phase == JobPhase.PackA)
            {
                int tiles = (RowEnd - RowStart + mr - 1) / mr;
                int t0 = (int)((long)tiles * part / Parts), t1 = (int)((long)tiles * (part + 1) / Parts);
                int r0 = t0 * mr, r1 = Math.Min(RowEnd - RowStart, t1 * mr); // relative to RowStart
                if (r0 >= r1) return;
                for (int pc = 0; pc < K; pc += Kc)
                {
                    int kc = Math.Min(Kc, K - pc);
                    GemmPacking.PackA(A, M, K, TransposeA, RowStart + r0, r1 - r0, pc, kc, mr, SharedA + (nint)pc * MPad + (nint)r0 * kc);
                }
                return;
            }
            if (Phase == JobPhase.Compute)
            {
                int chunk;
                while ((chunk = Interlocked.Increment(ref NextChunk) - 1) < Chunks)
                {
                    int c0 = chunk * ChunkPanels * nr;
                    Block(RowStart, RowEnd, c0, Math.Min(N, c0 + ChunkPanels * nr));
                }
                return;
            }
            int m0 = 0, m1 = M, n0 = 0, n1 = N;
            if (SplitColumns)
            {
                int panels = (N + nr - 1) / nr;
                n0 = Math.Min(N, (int)((long)panels * part / Parts) * nr);
                n1 = Math.Min(N, (int)((long)panels * (part + 1) / Parts) * nr);
            }
            else
            {
                int tiles = (M + mr - 1) / mr;
                m0 = Math.Min(M, (int)((long)tiles * part / Parts) * mr);
                m1 = Math.Min(M, (int)((long)tiles * (part + 1) / Parts) * mr);
            }
            if (m0 < m1 && n0 < n1) Block(m0, m1, n0, n1);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Block(int m0, int m1, int n0, int n1)
        {
            var kernel = Kernel;
            bool direct = DirectB && m1 - m0 <= DirectBMaxRows;
            int mr = kernel.Mr, nr = kernel.Nr, es = kernel.BElementSize;
            int mc = Math.Max(mr, McTarget / mr * mr);
            // Pre-packed B needs no copy, so the only reason to block columns is A reuse; one block
            // over the whole share keeps A packed once per depth block.
            int nc = BPacked || direct ? n1 - n0 : Math.Max(nr, NcTarget / nr * nr);
            int kcMax = Math.Min(Kc, K);

            var buffers = Buffers.For(mc * kcMax, BPacked ? 0 : direct ? nr * kcMax : RoundUp(Math.Min(nc, n1 - n0), nr) * kcMax);
            float* aPack = buffers.A, bPack = buffers.B;
            float* edge = stackalloc float[mr * nr];

            if (PanelMajor)
            {
                PackedPanelMajor(m0, m1, n0, n1, edge);
                return;
            }

            for (int jc = n0; jc < n1; jc += nc)
            {
                int ncCur = Math.Min(nc, n1 - jc);
                for (int pc = 0; pc < K; pc += Kc)
                {
                    int kc = Math.Min(Kc, K - pc);
                    bool add = Accumulate || pc > 0;
                    // Byte addresses: packed B may hold 16-bit elements (es = 2); raw B is float32.
                    byte* bBlock;
                    nint panelStride, ldb = (nint)nr * es;
                    if (BPacked)
                    {
                        bBlock = B + ((nint)(jc / nr) * K * nr + (nint)pc * nr) * es;
                        panelStride = (nint)K * nr * es;
                    }
                    else if (direct)
                    {
                        bBlock = B + ((nint)pc * N + jc) * sizeof(float);
                        panelStride = (nint)nr * sizeof(float);
                        ldb = (nint)N * sizeof(float);
                    }
                    else
                    {
                        GemmPacking.PackB((float*)B, K, N, TransposeB, pc, kc, jc, ncCur, nr, bPack);
                        bBlock = (byte*)bPack;
                        panelStride = (nint)kc * nr * sizeof(float);
                    }

                    for (int ic = m0; ic < m1; ic += mc)
                    {
                        int mcCur = Math.Min(mc, m1 - ic);
                        float* aBlock;
                        if (SharedA != null) aBlock = SharedA + (nint)pc * MPad + (nint)(ic - RowStart) * kc;
                        else
                        {
                            GemmPacking.PackA(A, M, K, TransposeA, ic, mcCur, pc, kc, mr, aPack);
                            aBlock = aPack;
                        }

                        for (int jr = 0; jr < ncCur; jr += nr)
                        {
                            int cols = Math.Min(nr, ncCur - jr);
                            byte* bPanel = bBlock + (jr / nr) * panelStride;
                            nint ldbPanel = ldb;
                            if (direct && cols < nr)
                            {
                                // The ragged last panel would read past row ends: pad it to NR in scratch.
                                GemmPacking.PackB((float*)B, K, N, false, pc, kc, jc + jr, cols, nr, bPack);
                                bPanel = (byte*)bPack;
                                ldbPanel = (nint)nr * sizeof(float);
                            }
                            for (int ir = 0; ir < mcCur; ir += mr)
                            {
                                int rows = Math.Min(mr, mcCur - ir);
                                float* aPanel = aBlock + (nint)ir * kc;
                                float* cTile = C + (nint)(ic + ir) * N + jc + jr;
                                RunTile(kernel, kc, aPanel, bPanel, ldbPanel, cTile, N, rows, cols, add, edge);
                            }
                        }
                    }
                }
            }
        }

        /// <summary>One MR x NR tile of C; an edge tile runs the full kernel into scratch and copies the valid part.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void RunTile(MicroKernel kernel, int kc, float* aPanel, byte* bPanel, nint ldb, float* cTile, nint ldc,
            int rows, int cols, bool add, float* edge)
        {
            if (rows == kernel.Mr && cols == kernel.Nr)
            {
                kernel.Run(kc, aPanel, bPanel, ldb, cTile, ldc, add);
                return;
            }
            int nr = kernel.Nr;
            kernel.Run(kc, aPanel, bPanel, ldb, edge, nr, false);
            for (int r = 0; r < rows; r++)
            {
                float* src = edge + r * nr;
                float* dst = cTile + r * ldc;
                if (add) for (int x = 0; x < cols; x++) dst[x] += src[x];
                else for (int x = 0; x < cols; x++) dst[x] = src[x];
            }
        }

        /// <summary>
        /// Pre-packed B with a row block of A already packed (the unembedding: m = 64 or 1,024, n = 50,257): loop
        /// depth blocks inside each column panel, so a panel's C strip (rows x NR: 8 KiB at 64 rows, 128 KiB at 1,024)
        /// stays in L1/L2 across the depth blocks instead of the whole chunk of C (tens of MB at 1,024 rows) being
        /// re-read and re-written from memory once per depth block. B is streamed once per row block.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackedPanelMajor(int m0, int m1, int n0, int n1, float* edge)
        {
            var kernel = Kernel;
            int mr = kernel.Mr, nr = kernel.Nr, es = kernel.BElementSize;
            nint ldb = (nint)nr * es;
            for (int jr = n0; jr < n1; jr += nr)
            {
                int cols = Math.Min(nr, n1 - jr);
                byte* bPanelAllK = B + (nint)(jr / nr) * K * ldb;
                for (int pc = 0; pc < K; pc += Kc)
                {
                    int kc = Math.Min(Kc, K - pc);
                    bool add = Accumulate || pc > 0;
                    byte* bPanel = bPanelAllK + pc * ldb;
                    float* aBlock = SharedA + (nint)pc * MPad + (nint)(m0 - RowStart) * kc;
                    for (int ir = m0; ir < m1; ir += mr)
                    {
                        int rows = Math.Min(mr, m1 - ir);
                        float* aPanel = aBlock + (nint)(ir - m0) * kc;
                        float* cTile = C + (nint)ir * N + jr;
                        RunTile(kernel, kc, aPanel, bPanel, ldb, cTile, N, rows, cols, add, edge);
                    }
                }
                if (Bias != null)
                    for (int r = m0; r < m1; r++)
                        Kernels.AddBiasRows(new Span<float>(C + (nint)r * N + jr, cols), new ReadOnlySpan<float>(Bias + jr, cols));
            }
        }
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    /// <summary>
    /// Per-thread pinned packing buffers, grown on demand and kept: a forward pass makes hundreds of
    /// GEMM calls and must not allocate (or re-pin) on each.
    /// </summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? _current;
        private float[] _a = [], _b = [];
        public float* A, B;

        public static Buffers For(int aFloats, int bFloats)
        {
            var buf = _current ??= new Buffers();
            // +16 floats so the start can be rounded up to a 64-byte boundary (aligned zmm loads of B).
            if (buf._a.Length < aFloats + 16) { buf._a = GC.AllocateUninitializedArray<float>(aFloats + 16, pinned: true); buf.A = Align(buf._a); }
            if (buf._b.Length < bFloats + 16) { buf._b = GC.AllocateUninitializedArray<float>(bFloats + 16, pinned: true); buf.B = Align(buf._b); }
            return buf;
        }

        private static float* Align(float[] array)
        {
            nint p = (nint)Unsafe.AsPointer(ref array[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }
}
