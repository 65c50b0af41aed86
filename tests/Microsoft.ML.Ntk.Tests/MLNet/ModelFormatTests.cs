using Microsoft.ML.Data;
using Microsoft.ML.Ntk.Tests.Linearization;

namespace Microsoft.ML.Ntk.Tests.MLNet;

/// <summary>
/// Models saved by an earlier format version still load and predict. The fixtures were saved by the library at format
/// version 1 (commit 0f0e3a3) with the predictions it printed: a regression MLP 2-16-1 and a softmax multiclass MLP 2-16-3
/// (NtkTestData's seeded networks and data). Later versions changed the prediction arithmetic's rounding (per-example
/// Jacobians, projected Jacobians), not the posterior, so predictions must agree to float32 rounding (Tolerances.Float32).
/// </summary>
public class ModelFormatTests
{
    [Fact]
    public void ARegressionModelOfFormatVersionOneStillPredicts()
    {
        var ml = new MLContext();
        var model = ml.Model.Load(TestNetworks.Fixture("regression.v1.zip"), out _);
        var scored = ml.Data.CreateEnumerable<RegressionScore>(model.Transform(ml.Data.LoadFromEnumerable(NtkTestData.Regression(10, 3))), false).ToArray();
        var expected = Expected("regression.v1.expected.txt");
        for (int i = 0; i < expected.Length; i++)
        {
            AssertClose(expected[i][0], scored[i].Score, $"row {i} score");
            AssertClose(expected[i][1], scored[i].Variance, $"row {i} variance");
        }
    }

    [Fact]
    public void AMulticlassModelOfFormatVersionOneStillPredicts()
    {
        var ml = new MLContext();
        var model = ml.Model.Load(TestNetworks.Fixture("multiclass.v1.zip"), out _);
        var scores = model.Transform(ml.Data.LoadFromEnumerable(NtkTestData.Classes(10, 5))).GetColumn<VBuffer<float>>("Score")
                          .Select(v => v.DenseValues().ToArray()).ToArray();
        var expected = Expected("multiclass.v1.expected.txt");
        for (int i = 0; i < expected.Length; i++)
            for (int c = 0; c < expected[i].Length; c++) AssertClose(expected[i][c], scores[i][c], $"row {i} class {c}");
    }

    private static float[][] Expected(string file) =>
        File.ReadAllLines(TestNetworks.Fixture(file)).Select(l => l.Split(' ').Select(float.Parse).ToArray()).ToArray();

    private static void AssertClose(float expected, float actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= Tolerances.Float32 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual:R} against {expected:R}");
}
