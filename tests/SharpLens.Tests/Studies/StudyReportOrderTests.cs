using SharpLens.Studies;
using SharpLens.Tests.Support;

namespace SharpLens.Tests.Studies;

/// <summary>A study report puts what it found first: the findings and the claims come right after the study's summary,
/// before the settings and before any group's figures.</summary>
public sealed class StudyReportOrderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sharplens-order-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Findings_and_claims_come_before_the_groups_and_settings()
    {
        var model = Fixtures.Load("tiny-b", processed: true);
        var study = StudyFile.ParseYaml(StudyFileTests.TinyYaml);
        var summary = new StudyRunner(model, study, new StudyRunOptions { OutDir = _dir }).Run();
        string html = File.ReadAllText(summary.ReportPath!);

        int At(string marker)
        {
            int i = html.IndexOf(marker, StringComparison.Ordinal);
            Assert.True(i >= 0, $"the report has no {marker}");
            return i;
        }
        int title = At("<h1>"), studyIntro = At(">The study</h2>"), findings = At(">Findings</h2>"), claims = At("Claims of the original study");
        int settings = At(">Settings</h2>"), firstGroup = At(">Group a"), firstFigure = At("<figure");
        Assert.True(title < studyIntro && studyIntro < findings, "the findings follow the title and the study's summary");
        Assert.True(findings < claims, "the claims follow the findings");
        Assert.True(claims < firstGroup && claims < settings, "findings and claims come before the groups and the settings");
        // The only figure before the first group is the claims table itself.
        Assert.True(firstFigure < firstGroup && html.IndexOf("<figure", firstFigure + 1, StringComparison.Ordinal) > firstGroup);
        Assert.True(firstFigure < claims);
    }
}
