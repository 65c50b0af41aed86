namespace Microsoft.ML.Ntk.Inference;

/// <summary>log p(y | s², σ²) as a function of the two hyperparameters, with its derivatives and the profiled constant mean.</summary>
internal interface IMarginalLikelihood
{
    (double Value, double DPrior, double DNoise, double[] Constant) Evaluate(double priorVariance, double noiseVariance);
}
