namespace SharpLens.Training;

/// <summary>
/// A small seeded generator (SplitMix64) whose sequence is fixed by this code alone, not by the runtime's
/// <see cref="System.Random"/>, so initial weights and training batches are the same on every machine and .NET version,
/// and a stream can be derived from (seed, purpose, index) for exact resume without saving generator state.
/// </summary>
internal struct DeterministicRandom
{
    private ulong _state;

    /// <summary>A generator for stream (<paramref name="seed"/>, <paramref name="stream"/>, <paramref name="index"/>):
    /// different streams are independent for practical purposes.</summary>
    /// <param name="seed">the run's seed</param>
    /// <param name="stream">what the numbers are for (e.g. 1 = weights, 2 = training batches, 3 = evaluation batches)</param>
    /// <param name="index">which batch (or 0)</param>
    public DeterministicRandom(long seed, int stream = 0, long index = 0)
    {
        _state = (ulong)seed;
        _state = Mix(_state ^ Mix((ulong)stream + 0x632BE59BD9B4E019UL)) ^ Mix((ulong)index * 0x9E3779B97F4A7C15UL + 0xD1B54A32D192ED03UL);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextBits()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A uniform integer in [0, <paramref name="n"/>).</summary>
    /// <param name="n">exclusive upper bound, positive</param>
    public int Next(int n) => (int)(((NextBits() >> 32) * (ulong)n) >> 32);

    /// <summary>A uniform integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="min">inclusive lower bound</param>
    /// <param name="max">inclusive upper bound</param>
    public int Between(int min, int max) => min + Next(max - min + 1);

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (NextBits() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Fills <paramref name="values"/> with draws from N(0, <paramref name="std"/>²) (Box-Muller, two per pair of uniforms).</summary>
    /// <param name="values">written</param>
    /// <param name="std">standard deviation</param>
    public void FillNormal(Span<float> values, float std)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1 - NextDouble(), u2 = NextDouble(), r = Math.Sqrt(-2 * Math.Log(u1));
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2)) * std;
            if (i + 1 < values.Length) values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2)) * std;
        }
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher-Yates).</summary>
    /// <param name="values">shuffled</param>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
