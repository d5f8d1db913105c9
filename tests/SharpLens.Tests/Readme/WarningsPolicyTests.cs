using System.Xml.Linq;

namespace SharpLens.Tests.Readme;

/// <summary>The build has no warnings, and CI keeps it so by treating warnings as errors.</summary>
public class WarningsPolicyTests
{
    [Fact]
    public void CiBuildsTreatWarningsAsErrors()
    {
        var props = XDocument.Load(Path.Combine(ReadmeDocument.RepoRoot, "Directory.Build.props"));
        var group = props.Descendants("PropertyGroup").SingleOrDefault(g => ((string?)g.Attribute("Condition") ?? "").Contains("'$(CI)' == 'true'"));
        Assert.NotNull(group);
        Assert.Equal("true", (string?)group.Element("TreatWarningsAsErrors"));
        Assert.Contains("export CI=true", File.ReadAllText(Path.Combine(ReadmeDocument.RepoRoot, ".ci", "run")));
    }
}
