namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The prior variance s² (the scale of the kernel s² J Jᵀ) and the noise variance σ², each either fixed by the
/// user (a value) or learned (null); and the floor of a learned σ² as a fraction of the mean square of the targets around
/// the prior mean, their variance for a constant mean (<see cref="FitWarnings.ResidualScale"/>; 0: pure maximum likelihood,
/// which can drive σ² to numerical zero with few points).
/// </summary>
internal sealed record HyperparameterSpec(double? PriorVariance, double? NoiseVariance, double NoiseFloor = 0)
{
    /// <summary>Whether both values are given, so that no marginal likelihood is needed.</summary>
    public bool BothGiven => PriorVariance is not null && NoiseVariance is not null;

    public void Validate()
    {
        if (PriorVariance is { } s && !(s > 0 && double.IsFinite(s)))
            throw new ArgumentOutOfRangeException(nameof(PriorVariance), s, "The prior variance must be positive and finite.");
        if (NoiseVariance is { } n && !(n > 0 && double.IsFinite(n)))
            throw new ArgumentOutOfRangeException(nameof(NoiseVariance), n, "The noise variance must be positive and finite.");
        if (!(NoiseFloor >= 0 && NoiseFloor < 1))
            throw new ArgumentOutOfRangeException(nameof(NoiseFloor), NoiseFloor, "The noise variance floor is a fraction of the targets' variance in [0, 1).");
    }
}
