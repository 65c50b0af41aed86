using Microsoft.ML.Ntk.Examples;
using Microsoft.ML.Ntk.Tests.Stress;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Tests.Examples;

/// <summary>
/// The examples' Adam (<see cref="AdamMoments"/>, explicit Scalars) against torch.optim.Adam: the same weights to the bit, and
/// the same again under forced garbage collections, where TorchSharp's own optimizer reads Scalars that finalizers may free.
/// </summary>
public class TrainingTests
{
    private static nn.Module<Tensor, Tensor> Network()
    {
        manual_seed(11);
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3));
    }

    private static (Tensor X, Tensor Y) Data()
    {
        var generator = new Generator(5);
        return (randn(new long[] { 24, 4 }, generator: generator), randint(0, 3, new long[] { 24 }, generator: generator));
    }

    private static float[] Weights(nn.Module<Tensor, Tensor> module) =>
        module.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    private static float[] Ours(int steps, int batchSize)
    {
        var (x, y) = Data();
        var module = Network();
        Training.Classification(module, x, y, steps, learningRate: 3e-2, batchSize: batchSize, seed: 3);
        return Weights(module);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void AdamGivesTorchsOptimizersWeights(int batchSize)
    {
        var (x, y) = Data();
        var reference = Network();
        var optimizer = optim.Adam(reference.parameters(), lr: 3e-2);
        var generator = new Generator(4);                                   // Training's: seed + 1
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var (bx, by) = (x, y);
            if (batchSize > 0)
            {
                Tensor pick = randint(0, x.shape[0], new long[] { batchSize }, generator: generator);
                (bx, by) = (x.index_select(0, pick), y.index_select(0, pick));
            }
            optimizer.zero_grad();
            nn.functional.cross_entropy(reference.call(bx), by).backward();
            optimizer.step();
        }
        Assert.Equal(Weights(reference), Ours(60, batchSize));
    }

    [Fact]
    public void FineTuningGivesTheSameWeightsUnderForcedCollections()
    {
        float[] expected = Ours(400, 8);
        using (new ForcedCollector())
            for (int round = 0; round < 3; round++)
                Assert.Equal(expected, Ours(400, 8));
    }
}
