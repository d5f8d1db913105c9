namespace SharpLens.Loading;

/// <summary>
/// Where and how to reach the Hugging Face hub and its local cache. Build it with
/// <see cref="FromEnvironment"/> (HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE) or set the
/// properties directly (tests do, so they never touch the process environment).
/// </summary>
public sealed record HubOptions
{
    /// <summary>The hub cache folder (the one holding <c>models--org--name</c>).</summary>
    public required string CacheDir { get; init; }
    /// <summary>Hub base URL, default https://huggingface.co.</summary>
    public string Endpoint { get; init; } = "https://huggingface.co";
    /// <summary>Bearer token sent to the endpoint host, or null.</summary>
    public string? Token { get; init; }
    /// <summary>When true no network request is made; only the cache is used.</summary>
    public bool Offline { get; init; }
    /// <summary>Branch, tag or commit hash to resolve.</summary>
    public string Revision { get; init; } = "main";
    /// <summary>Time allowed to connect to the server.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// Read-inactivity timeout: a download whose server sends no byte (headers or body) for this long counts as
    /// stalled and is retried. Environment: SHARPLENS_HUB_TIMEOUT (seconds).
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How many times one file is tried in all (stalls, dropped connections, 5xx answers, bad checksums).</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Wait before the first retry; it doubles for each further retry.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// Told before every retry what went wrong and which attempt follows (the CLI shows it on the file's progress line),
    /// so a stalled download says that it is retrying instead of showing the same percentage for minutes.
    /// </summary>
    public Action<HubRetry>? Retrying { get; init; }

    /// <summary>
    /// Options from environment variables, read through <paramref name="getEnv"/> (default: the process
    /// environment). Cache dir: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
    /// ~/.cache/huggingface/hub. Token: HF_TOKEN, else the file HF_HOME/token written by <c>huggingface-cli login</c>.
    /// Read-inactivity timeout: SHARPLENS_HUB_TIMEOUT in seconds (default 30).
    /// </summary>
    /// <exception cref="InvalidInputException">SHARPLENS_HUB_TIMEOUT is not a positive number of seconds.</exception>
    public static HubOptions FromEnvironment(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        string? Get(string k) { var v = getEnv(k); return string.IsNullOrWhiteSpace(v) ? null : v.Trim(); }
        string home = Get("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string Expand(string p) => p == "~" ? home : p.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, p[2..]) : p;

        string hfHome = Get("HF_HOME") is string h ? Expand(h)
            : Path.Combine(Get("XDG_CACHE_HOME") is string x ? Expand(x) : Path.Combine(home, ".cache"), "huggingface");
        string cache = Get("HF_HUB_CACHE") is string c ? Expand(c) : Path.Combine(hfHome, "hub");
        string? token = Get("HF_TOKEN");
        if (token == null)
        {
            string tokenFile = Get("HF_TOKEN_PATH") is string tp ? Expand(tp) : Path.Combine(hfHome, "token");
            try { if (File.Exists(tokenFile)) token = File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null; }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        string offline = (Get("HF_HUB_OFFLINE") ?? "").ToLowerInvariant();
        var readTimeout = TimeSpan.FromSeconds(30);
        if (Get("SHARPLENS_HUB_TIMEOUT") is string timeout)
        {
            if (!double.TryParse(timeout, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds)
                || !(seconds > 0) || seconds > 86400)
                throw new InvalidInputException($"SHARPLENS_HUB_TIMEOUT='{timeout}' is not a number of seconds between 0 and 86400: set it to e.g. 30 or unset it");
            readTimeout = TimeSpan.FromSeconds(seconds);
        }
        return new HubOptions
        {
            ReadTimeout = readTimeout,
            CacheDir = Path.GetFullPath(cache),
            Endpoint = (Get("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            Token = token,
            Offline = offline is "1" or "true" or "yes" or "on",
        };
    }
}


/// <summary>One attempt to download a file failed and another follows (<see cref="HubOptions.Retrying"/>).</summary>
/// <param name="File">The file, e.g. model.safetensors.</param>
/// <param name="Reason">What went wrong, in one line, e.g. "no data for 30 s (SHARPLENS_HUB_TIMEOUT) after 65536 of 548105171 bytes from ...".</param>
/// <param name="NextAttempt">The attempt about to start: 2 for the first retry.</param>
/// <param name="MaxAttempts">Attempts allowed in all (<see cref="HubOptions.MaxAttempts"/>).</param>
/// <param name="Delay">The wait before it.</param>
public sealed record HubRetry(string File, string Reason, int NextAttempt, int MaxAttempts, TimeSpan Delay)
{
    /// <summary>"FILE: REASON, retrying (2 of 5) in 1 s".</summary>
    public override string ToString() =>
        $"{File}: {Reason}, retrying ({NextAttempt} of {MaxAttempts}) in {Delay.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} s";
}
