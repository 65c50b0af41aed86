namespace Microsoft.ML.Ntk;

/// <summary>What a fit is doing when it reports progress.</summary>
public enum NtkFitStage
{
    /// <summary>Reading and checking the training rows.</summary>
    ReadingData,

    /// <summary>Building the linearized network (a float64 copy) and its outputs at the training inputs.</summary>
    Linearizing,

    /// <summary>Maximizing the marginal likelihood (regression) or the Laplace evidence (softmax) over the hyperparameters; Step counts evaluations.</summary>
    LearningHyperparameters,

    /// <summary>Solving for the posterior: conjugate-gradient iterations, or Newton iterations of the softmax MAP; Step counts them.</summary>
    Solving,

    /// <summary>Saving the posterior into the ML.NET model.</summary>
    BuildingModel,

    /// <summary>The fit has finished; the message summarizes it.</summary>
    Finished,
}

/// <summary>One progress report of a fit: the stage, a step counter within it, and a human-readable message.</summary>
public sealed record NtkProgress(NtkFitStage Stage, int Step, string Message);
