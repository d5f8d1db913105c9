namespace SharpLens;

/// <summary>
/// Base of every error SharpLens raises on purpose: the message is one line that names the
/// problem and the fix, fit to print to a user without a stack trace.
/// </summary>
public class SharpLensException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A file or model could not be found.</summary>
public sealed class ModelNotFoundException(string message, Exception? inner = null) : SharpLensException(message, inner);

/// <summary>A checkpoint or data file is malformed, truncated or inconsistent.</summary>
public sealed class InvalidCheckpointException(string message, Exception? inner = null) : SharpLensException(message, inner);

/// <summary>User input (prompts, answers, hook names, options) is invalid.</summary>
public sealed class InvalidInputException(string message, Exception? inner = null) : SharpLensException(message, inner);
