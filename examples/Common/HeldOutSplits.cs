namespace Microsoft.ML.Ntk.Examples;

/// <summary>How the gradient baselines split their labelled data to choose Adam's learning rate and step count.</summary>
public static class HeldOutSplits
{
    /// <summary>
    /// A fifth of each class held out (at least one image: the last of its rows in order), the rest to train on. Throws when a class
    /// has fewer than two rows: nothing could be held out and trained on at once.
    /// </summary>
    public static (long[] Train, long[] HeldOut) StratifiedFifth(long[] labels)
    {
        var train = new List<long>();
        var heldOut = new List<long>();
        foreach (var rows in Enumerable.Range(0, labels.Length).GroupBy(i => labels[i]))
        {
            int[] members = rows.ToArray();
            if (members.Length < 2)
                throw new ArgumentException($"Class {rows.Key} has {members.Length} labelled row: a fifth cannot be held out (make the choice on a larger set).");
            int held = Math.Max(1, members.Length / 5);
            train.AddRange(members.Take(members.Length - held).Select(i => (long)i));
            heldOut.AddRange(members.Skip(members.Length - held).Select(i => (long)i));
        }
        return (train.ToArray(), heldOut.ToArray());
    }

    /// <summary>The held-out rows of each of <paramref name="folds"/> folds of <paramref name="count"/> rows: row i in fold i mod folds.</summary>
    public static int[][] Folds(int count, int folds) =>
        Enumerable.Range(0, folds).Select(f => Enumerable.Range(0, count).Where(i => i % folds == f).ToArray()).ToArray();
}
