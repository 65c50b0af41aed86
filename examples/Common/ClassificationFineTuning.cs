using static TorchSharp.torch;

namespace Microsoft.ML.Ntk.Examples;

/// <summary>
/// The gradient baselines of the two CNN examples: Adam on all weights or on the children under name prefixes (the last block, the
/// last layer), minibatches of <c>batchSize</c> (all images when fewer), batch norm in evaluation mode. Learning rate and step count
/// are chosen on the labelled images themselves (<see cref="Choose"/>), then the network is retrained on all of them. At 1 label per
/// class nothing can be held out, so the choice made on the 5-per-class set of the same draw is used (<see cref="Fit"/>).
/// </summary>
public sealed class ClassificationFineTuning(Func<nn.Module<Tensor, Tensor>> load, Func<Tensor, Tensor> normalize, AdamGrid grid, int batchSize = 32)
{
    private readonly Dictionary<(string?, int), AdamChoice> atFive = new();

    /// <summary>The choices made at 5 labels per class when the 5-per-class set had to be drawn for a 1-label fit (5 was not run).</summary>
    public int DrawnForOneLabel { get; private set; }

    /// <summary>
    /// Fine-tunes a copy of the pretrained network on images x [N, ...] and class indices y (Int64) with k labelled images per class:
    /// the choice on these images when k ≥ 2 (kept for draw <paramref name="draw"/> when k = 5), else the choice at 5 labels per
    /// class of the same draw, made on <paramref name="fivePerClass"/>() when 5 has not been run first.
    /// </summary>
    public (nn.Module<Tensor, Tensor> Module, AdamChoice Choice) Fit(Tensor x, Tensor y, string? onlyPrefix, int k, int draw,
                                                                    Func<(Tensor X, Tensor Y)> fivePerClass)
    {
        AdamChoice choice;
        if (k >= 2) choice = Choose(x, y, onlyPrefix, draw);
        else if (!atFive.TryGetValue((onlyPrefix, draw), out choice!))
        {
            var (fiveX, fiveY) = fivePerClass();
            choice = Choose(fiveX, fiveY, onlyPrefix, draw);
            DrawnForOneLabel++;
        }
        if (k == 5 || k == 1) atFive[(onlyPrefix, draw)] = choice;
        return (Train(x, y, onlyPrefix, choice, draw), choice);
    }

    /// <summary>
    /// The learning rate and step count of the grid with the highest accuracy (then the lowest NLL) on a held-out fifth of each class:
    /// one run per learning rate on the other four fifths, scored at each checkpoint.
    /// </summary>
    public AdamChoice Choose(Tensor x, Tensor y, string? onlyPrefix, int seed)
    {
        var (train, heldOut) = HeldOutSplits.StratifiedFifth(y.data<long>().ToArray());
        Tensor trainX = normalize(x.index_select(0, tensor(train))), trainY = y.index_select(0, tensor(train));
        Tensor heldOutX = normalize(x.index_select(0, tensor(heldOut)));
        int[] heldOutY = y.index_select(0, tensor(heldOut)).data<long>().Select(v => (int)v).ToArray();
        var cut = SequentialSplit.Cut(load(), onlyPrefix);
        Tensor trainInputs = cut.Prepare(trainX), heldOutInputs = cut.Prepare(heldOutX);
        var candidates = new List<(AdamChoice, double, double)>();
        foreach (double rate in grid.LearningRates)
        {
            var run = SequentialSplit.Cut(load(), onlyPrefix);
            (double Accuracy, double Nll)? best = null;
            int stale = 0;
            Training.Classification(run.Rest, trainInputs, trainY, grid.MaxSteps, rate, run.RestPrefix, batchSize, seed, trainingMode: false,
                afterStep: step =>
                {
                    if (!grid.StepCounts.Contains(step)) return true;
                    var p = Probabilities(run.Rest, heldOutInputs);
                    var score = (Metrics.Accuracy(p, heldOutY), Metrics.ClassificationNll(p, heldOutY));
                    candidates.Add((new AdamChoice(rate, step), score.Item1, score.Item2));
                    if (best is null || AdamChoice.Better(score, best.Value)) (best, stale) = (score, 0);
                    else stale++;
                    return stale < grid.Patience;
                });
        }
        return AdamChoice.ByAccuracyThenNll(candidates);
    }

    /// <summary>The pretrained network trained on all the images with the chosen learning rate and step count.</summary>
    public nn.Module<Tensor, Tensor> Train(Tensor x, Tensor y, string? onlyPrefix, AdamChoice choice, int seed)
    {
        var network = load();
        var cut = SequentialSplit.Cut(network, onlyPrefix);
        Training.Classification(cut.Rest, cut.Prepare(normalize(x)), y, choice.Steps, choice.LearningRate, cut.RestPrefix, batchSize, seed,
                                trainingMode: false);
        network.eval();
        return network;
    }

    /// <summary>Softmax probabilities of a network (or of its rest) on inputs it takes as they are.</summary>
    public static float[][] Probabilities(nn.Module<Tensor, Tensor> module, Tensor inputs)
    {
        Tensor p = Training.Predict(module, inputs).softmax(1);
        return Enumerable.Range(0, (int)p.shape[0]).Select(i => p[i].data<float>().ToArray()).ToArray();
    }
}
