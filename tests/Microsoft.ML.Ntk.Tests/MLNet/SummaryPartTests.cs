using Microsoft.ML.Ntk.MLNet;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>
/// The saved fit summary: every field round-trips, and summaries saved before the covariance scale or the output coupling
/// existed still read.
/// </summary>
public class SummaryPartTests
{
    private static readonly NtkFitSummary Summary = new(InferenceStrategy.Dense, 250, 5349, 0.42, 0, -216.7, 8, 5, 3e-9, true,
                                                        TimeSpan.FromSeconds(1.5), new[] { "a warning" }, CovarianceScale: 0.0562,
                                                        IndependentOutputs: true);

    [Fact]
    public void EveryFieldRoundTrips()
    {
        var part = new MemoryStream();
        SummaryPart.Write(part, Summary);
        part.Position = 0;
        var read = SummaryPart.Read(part);
        Assert.Equal(Summary.ToString(), read.ToString());
        Assert.Equal(Summary.CovarianceScale, read.CovarianceScale);
        Assert.True(read.IndependentOutputs);
        Assert.Equal(Summary.Warnings, read.Warnings);
    }

    [Fact]
    public void ASummarySavedWithoutTheOutputCouplingReadsAsTheFullKernel()
    {
        var part = new MemoryStream();
        SummaryPart.Write(part, Summary);
        var older = new MemoryStream(part.ToArray(), 0, (int)part.Length - sizeof(bool));      // what the writer wrote before the coupling
        var read = SummaryPart.Read(older);
        Assert.Equal(Summary with { IndependentOutputs = false, Warnings = read.Warnings }, read);
    }

    [Fact]
    public void ASummarySavedWithoutTheCovarianceScaleReadsAsUnscaled()
    {
        var part = new MemoryStream();
        SummaryPart.Write(part, Summary);
        var older = new MemoryStream(part.ToArray(), 0, (int)part.Length - sizeof(double) - sizeof(bool));   // what the writer wrote before the scale
        var read = SummaryPart.Read(older);
        Assert.Equal(1, read.CovarianceScale);
        Assert.Equal(Summary with { CovarianceScale = 1, IndependentOutputs = false, Warnings = read.Warnings }, read);
        Assert.Equal(Summary.Warnings, read.Warnings);
    }
}
