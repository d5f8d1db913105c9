using SharpLens.Studies;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.RealModel;

/// <summary>The shipped study on real GPT-2 small must pass `study verify` against the notebook: every figure, printed number and claim.</summary>
[Trait("Category", "RealWeights")]
public class StudyVerifyOnGpt2Tests
{
    [RealGpt2Fact]
    public void ShippedStudyOnGpt2PassesVerifyAgainstTheNotebook()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharplens-gpt2-study-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var study = StudyFile.Load(ReferenceResults.StudyFilePath);
            var summary = new StudyRunner(RealGpt2.Model, study, new StudyRunOptions { OutDir = dir, ModelName = "gpt2", WriteReport = false }).Run();
            var checks = StudyVerify.Compare(StudyResults.Load(summary.ResultsPath), ReferenceResults.Reference);
            Assert.All(checks, c => Assert.False(c.Failed(), $"{c.Group} {c.Title}: {c.Status}; {c.Detail}"));
        }
        finally { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } }
    }
}
