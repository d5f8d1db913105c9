using System.Text.Json.Nodes;
using SharpLens.Tensors;
using SharpLens.Tests.Support;
using SharpLens.Training;

namespace SharpLens.Tests.Training;

/// <summary>AdamW, the schedule and clipping against torch (fixtures/training/adamw.json, written by
/// tests/reference/make_training_fixtures.py with torch.optim.AdamW, LambdaLR-style schedule and clip_grad_norm_).</summary>
public class OptimizerTests
{
    private static float[] Floats(JsonNode? n) => n!.AsArray().Select(x => (float)x!.GetValue<double>()).ToArray();

    [Fact]
    public void AdamWScheduleAndClippingMatchTorchStepByStep()
    {
        var d = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "training", "adamw.json")))!;
        double peak = (double)d["peak"]!, minLr = (double)d["min_lr"]!, maxNorm = (double)d["max_norm"]!;
        var schedule = new LearningRateSchedule(peak, (int)d["warmup"]!, (int)d["total"]!, minLr);
        // "plain" stands for a bias: with DecayAll false only W_ matrices other than W_E/W_pos are decayed.
        var adam = new AdamW(new AdamWOptions { WeightDecay = (double)d["weight_decay"]! });
        Assert.True(adam.Options.Decays("blocks.0.attn.W_Q"));
        Assert.False(adam.Options.Decays("blocks.0.attn.b_Q") || adam.Options.Decays("embed.W_E") || adam.Options.Decays("blocks.0.ln1.w"));
        var decayed = new Tensor(Floats(d["initial"]!["decayed"]), 3, 4);
        var plain = new Tensor(Floats(d["initial"]!["plain"]), 5);
        var steps = d["steps"]!.AsArray();
        for (int s = 0; s < steps.Count; s++)
        {
            var step = steps[s]!;
            var g1 = new Tensor(Floats(step["grad"]!["decayed"]), 3, 4);
            var g2 = new Tensor(Floats(step["grad"]!["plain"]), 5);
            double norm = GradientClipping.GlobalNorm([g1.Data, g2.Data]);
            Assert.Equal((double)step["grad_norm"]!, norm, 1e-5 * norm);
            GradientClipping.Clip([g1.Data, g2.Data], norm, maxNorm);
            double lr = schedule.At(s);
            Assert.Equal((double)step["lr"]!, lr, 1e-12);
            adam.Update([("blocks.0.attn.W_Q", decayed, g1), ("blocks.0.attn.b_Q", plain, g2)], lr);
            TensorAssert.Close(Floats(step["after"]!["decayed"]), decayed.Data, $"W after step {s + 1}", atol: 1e-6f, rtol: 1e-6f);
            TensorAssert.Close(Floats(step["after"]!["plain"]), plain.Data, $"b after step {s + 1}", atol: 1e-6f, rtol: 1e-6f);
            TensorAssert.Close(Floats(step["exp_avg_sq"]!["decayed"]), adam.Moments("blocks.0.attn.W_Q", 12).V, $"v after step {s + 1}", atol: 1e-9f, rtol: 1e-5f);
        }
        Assert.Equal(steps.Count, adam.Step);
    }

    [Fact]
    public void TheScheduleWarmsUpLinearlyThenDecaysByCosineToTheFloor()
    {
        var s = new LearningRateSchedule(1.0, 10, 110, 0.1);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(1.0, s.At(9), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.1 + 0.45 * (1 + Math.Cos(Math.PI * 0.5)), s.At(60), 12);
        Assert.Equal(0.1, s.At(110), 12);
        Assert.Equal(0.1, s.At(500), 12);
    }
}
