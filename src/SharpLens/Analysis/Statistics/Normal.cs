namespace SharpLens.Analysis.Statistics;

/// <summary>The normal approximation: the interval of a sample mean, and the standard normal CDF and quantile
/// function behind the permutation tests and bootstrap intervals (double precision approximations).</summary>
public static class Normal
{
    /// <summary>
    /// The sample mean with the normal-approximation interval mean ± z·sd/√n (sd with n - 1; z = 1.96 for 95%). One
    /// sample gives a zero-width interval, none gives NaN; the percentile bootstrap (<see cref="Bootstrap"/>) needs no
    /// normality and is what the analyses report, this is the quick interval of a figure's error bars.
    /// </summary>
    /// <param name="samples">[n] the values, e.g. one per prompt</param>
    /// <param name="z">the normal quantile of the two-sided level (1.96 for 95%, 2.576 for 99%)</param>
    public static (double Mean, double Lower, double Upper) MeanInterval(IReadOnlyList<double> samples, double z = 1.96)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) return (double.NaN, double.NaN, double.NaN);
        double mean = samples.Average();
        double sd = samples.Count < 2 ? 0 : Math.Sqrt(samples.Sum(v => (v - mean) * (v - mean)) / (samples.Count - 1));
        double half = z * sd / Math.Sqrt(samples.Count);
        return (mean, mean - half, mean + half);
    }

    /// <summary>Phi(x), via the complementary error function (W. J. Cody-style rational approximation, |err| &lt; 1.2e-7).</summary>
    internal static double Cdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        // Numerical Recipes erfcc: fractional error < 1.2e-7 everywhere.
        double z = Math.Abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }

    /// <summary>Phi^-1(p) by Acklam's rational approximation.</summary>
    internal static double InverseCdf(double p)
    {
        if (p <= 0) return double.NegativeInfinity;
        if (p >= 1) return double.PositiveInfinity;
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double pLow = 0.02425;
        double x;
        if (p < pLow)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p <= 1 - pLow)
        {
            double q = p - 0.5, r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        else
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        return x; // relative error < 1.15e-9
    }
}
