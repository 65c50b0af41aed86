using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples.Sinusoid;

/// <summary>
/// The gradient baselines of the sinusoids with Adam's learning rate and step count chosen by k-fold cross-validation on the task's
/// points (<see cref="AdamChoice.ByMeanMse"/> over <see cref="AdamGrid.Regression"/>), every candidate of a task trained at once in
/// one full-batch loop of the longest step count (<see cref="StackedMlp"/>, <see cref="StackedAdam"/>). Per learning rate there is one
/// copy per fold, trained on the other folds' points (the held-out ones weigh zero in its loss) and scored on its fold at each
/// checkpoint, and one copy trained on all points, whose weights are kept at each checkpoint: full-batch Adam is deterministic, so the
/// copy at the chosen checkpoint is the network retrained on all points with the chosen learning rate and step count.
/// </summary>
public static class CrossValidatedFineTuning
{
    /// <summary>The fitted network, its choice, and the variance of its training residuals (at least 1e-6) as its predictive variance.</summary>
    public sealed record Fitted(StackedMlp Network, AdamChoice Choice, double ResidualVariance)
    {
        /// <summary>The network's outputs on the points, with the constant predictive variance.</summary>
        public Predictive Predict(Point[] points)
        {
            double[] mean = Outputs(Network, points);
            return new Predictive(mean, Enumerable.Repeat(ResidualVariance, mean.Length).ToArray());
        }
    }

    /// <summary>Chooses and retrains on the points, training the layers under <paramref name="onlyPrefix"/> (null: all).</summary>
    public static Fitted Fit(nn.Module<Tensor, Tensor> pretrained, Point[] train, AdamGrid grid, int folds, string? onlyPrefix)
    {
        int rates = grid.LearningRates.Length, copies = rates * (folds + 1);
        int[][] heldOut = HeldOutSplits.Folds(train.Length, folds);
        // Copy r·(folds + 1) + f: learning rate r, trained without fold f (f = folds: on all points).
        var weight = new float[copies, train.Length];
        for (int r = 0; r < rates; r++)
            for (int f = 0; f <= folds; f++)
                for (int i = 0; i < train.Length; i++)
                    weight[r * (folds + 1) + f, i] = f < folds && heldOut[f].Contains(i) ? 0 : 1;
        Tensor trainWeight = tensor(weight), heldOutWeight = 1 - trainWeight;           // [M, N]
        Tensor x = Inputs(train), y = tensor(train.Select(p => p.Label).ToArray()).reshape(1, -1);
        var network = StackedMlp.Copies(pretrained, copies, onlyPrefix);
        using var adam = new StackedAdam(network.Trained, Enumerable.Range(0, copies).Select(m => grid.LearningRates[m / (folds + 1)]).ToArray());
        long[] onAll = Enumerable.Range(0, rates).Select(r => (long)(r * (folds + 1) + folds)).ToArray();
        var mse = Enumerable.Range(0, folds).Select(_ => Enumerable.Range(0, rates).Select(_ => new double[grid.StepCounts.Length]).ToArray()).ToArray();
        var snapshots = new StackedMlp[grid.StepCounts.Length];
        for (int step = 1; step <= grid.MaxSteps; step++)
        {
            using var scope = NewDisposeScope();
            Tensor error = network.Forward(x).squeeze(-1) - y, squared = error * error;   // [M, N]
            adam.Step((squared * trainWeight).sum(1).div(trainWeight.sum(1)).sum());
            int checkpoint = Array.IndexOf(grid.StepCounts, step);
            if (checkpoint < 0) continue;
            using var noGrad = no_grad();
            Tensor difference = network.Forward(x).squeeze(-1) - y, residual = difference * difference;
            double[] heldOutMse = (residual * heldOutWeight).sum(1).div(heldOutWeight.sum(1).clamp_min(1)).data<float>().Select(v => (double)v).ToArray();
            for (int r = 0; r < rates; r++)
                for (int f = 0; f < folds; f++)
                    mse[f][r][checkpoint] = heldOutMse[r * (folds + 1) + f];
            snapshots[checkpoint] = network.Snapshot(onAll);
            scope.MoveToOuter(snapshots[checkpoint].Tensors);
        }
        var choice = AdamChoice.ByMeanMse(grid, mse);
        var chosen = snapshots[Array.IndexOf(grid.StepCounts, choice.Steps)].Snapshot(new[] { (long)Array.IndexOf(grid.LearningRates, choice.LearningRate) });
        double[] fit = Outputs(chosen, train);
        double variance = Math.Max(fit.Zip(train, (f, p) => (f - p.Label) * (f - p.Label)).Average(), 1e-6);
        return new Fitted(chosen, choice, variance);
    }

    private static Tensor Inputs(Point[] points) => tensor(points.Select(p => p.X).ToArray()).reshape(-1, 1);

    private static double[] Outputs(StackedMlp network, Point[] points)
    {
        using var noGrad = no_grad();
        return network.Forward(Inputs(points)).reshape(-1).to(ScalarType.Float64).data<double>().ToArray();
    }
}
