namespace SharpLens.Analysis.Patching;

/// <summary>The per-head activation a head patch replaces.</summary>
public enum HeadActivation
{
    /// <summary>attn.hook_z [batch, pos, head, d_head]: the head's output before W_O (TransformerLens "output").</summary>
    Output,
    /// <summary>attn.hook_q [batch, pos, head, d_head]</summary>
    Query,
    /// <summary>attn.hook_k [batch, pos, head, d_head]</summary>
    Key,
    /// <summary>attn.hook_v [batch, pos, head, d_head]</summary>
    Value,
    /// <summary>attn.hook_pattern [batch, head, query_pos, key_pos] (all positions only).</summary>
    Pattern,
}
