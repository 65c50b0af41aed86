namespace Microsoft.ML.Ntk;

/// <summary>
/// What both Ntk trainers are told: the pretrained network, the columns, how a feature vector becomes the network's input,
/// which parameters are adapted, the hyperparameters (fixed, or learned when null), the prior mean, the inference strategy
/// and the solver's limits. Defaults follow ML.NET's conventions ("Label", "Features").
/// </summary>
public abstract class NtkTrainerOptions
{
    private protected NtkTrainerOptions() { }

    /// <summary>The pretrained network to adapt (required). The trainer works on its own float64 copy and never changes it.</summary>
    public PretrainedNetwork? Network;

    /// <summary>The label column: Single for regression, a key type for multiclass classification.</summary>
    public string LabelColumnName = "Label";

    /// <summary>The feature column: a vector (or scalar) of Single.</summary>
    public string FeatureColumnName = "Features";

    /// <summary>
    /// The shape one feature vector is reshaped to before it enters the network, e.g. [3, 32, 32] for images from
    /// ExtractPixels (channels first, as PyTorch). Null: the shape of a built-in architecture, else the vector as it is.
    /// </summary>
    public int[]? InputShape;

    /// <summary>
    /// Per-channel means subtracted from the input before the network (the channel is the first axis of
    /// <see cref="InputShape"/>), e.g. ImageNet's { 0.485f, 0.456f, 0.406f } after ExtractPixels(scaleImage: 1/255f).
    /// Null: none. Give <see cref="ChannelStandardDeviations"/> with it.
    /// </summary>
    public float[]? ChannelMeans;

    /// <summary>Per-channel standard deviations the centred input is divided by; null: none.</summary>
    public float[]? ChannelStandardDeviations;

    /// <summary>Which parameters are adapted: all (the default), the last k layers, or those with given name prefixes.</summary>
    public ParameterSelection AdaptedParameters = ParameterSelection.All;

    /// <summary>The noise variance σ² of the Gaussian likelihood; null: learned by maximizing the marginal likelihood.</summary>
    public double? NoiseVariance;

    /// <summary>
    /// The smallest noise variance the marginal likelihood may learn, as a fraction of the mean square of the labels around the
    /// prior mean (their variance with a constant mean); default 0.001. With few points the marginal likelihood can drive σ² to numerical zero and make predictions
    /// overconfident; the fit warns when the learned σ² sits on this floor. 0: pure maximum likelihood. Ignored when
    /// <see cref="NoiseVariance"/> is given and for the softmax likelihood.
    /// </summary>
    public double NoiseVarianceFloor = Inference.InferenceSettings.DefaultNoiseFloor;

    /// <summary>The prior variance s² of the adapted parameters; null: learned (marginal likelihood, or Laplace evidence for softmax).</summary>
    public double? PriorVariance;

    /// <summary>The prior mean of the outputs: the pretrained network's outputs (default), a learned constant, or zero.</summary>
    public PriorMean Mean = PriorMean.Network;

    /// <summary>
    /// Whether each output gets its own kernel, as if it had its own copy of the adapted parameters (the reference's choice),
    /// instead of the full kernel with its cross-output terms. For the softmax likelihood it makes the evidence search cost C
    /// factorizations of N × N per Newton step instead of one of N·C × N·C. Null (the default): the full kernel, except for
    /// a softmax fit of more than 2,000 latent values N·C (for example 250 images of ten classes), which uses independent
    /// outputs; <see cref="NtkFitSummary.IndependentOutputs"/> says which was used. The weight-space strategy refuses true.
    /// </summary>
    public bool? IndependentOutputs;

    /// <summary>How the posterior is computed; Auto chooses from the data size, the parameter count and memory.</summary>
    public InferenceStrategy Strategy = InferenceStrategy.Auto;

    /// <summary>How Jacobian–vector products are computed; Auto uses forward mode when every layer is known.</summary>
    public TangentMode TangentMode = TangentMode.Auto;

    /// <summary>The most iterations of each conjugate-gradient solve.</summary>
    public int MaxIterations = 1000;

    /// <summary>The relative residual at which a conjugate-gradient solve (or Newton's method) stops.</summary>
    public double Tolerance = 1e-6;

    /// <summary>How many inputs go through the network at once (bounds memory).</summary>
    public int BatchSize = 256;

    /// <summary>The seed of the random probes (stochastic strategies) and of Monte Carlo predictions.</summary>
    public int Seed;

    /// <summary>Cancels a fit between iterations; the fit then throws OperationCanceledException.</summary>
    public CancellationToken CancellationToken;

    /// <summary>Receives progress reports during the fit (on the fitting thread).</summary>
    public IProgress<NtkProgress>? Progress;

    /// <summary>Refuses a value that is not one of the enum's members (a cast such as (InferenceStrategy)77).</summary>
    private protected static void CheckDefined<T>(T value, string option) where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be one of {string.Join(", ", Enum.GetNames<T>())}.");
    }

    /// <summary>Checks the options that do not depend on the data; throws naming the offending option.</summary>
    internal virtual void Validate()
    {
        if (Network is null) throw new ArgumentNullException(nameof(Network), "Set Options.Network to the pretrained network to adapt.");
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw new ArgumentException("LabelColumnName must not be empty.", nameof(LabelColumnName));
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw new ArgumentException("FeatureColumnName must not be empty.", nameof(FeatureColumnName));
        ArgumentNullException.ThrowIfNull(AdaptedParameters, nameof(AdaptedParameters));
        CheckDefined(Mean, nameof(Mean));
        new Inference.HyperparameterSpec(PriorVariance, NoiseVariance, NoiseVarianceFloor).Validate();
        CheckDefined(Strategy, nameof(Strategy));
        CheckDefined(TangentMode, nameof(TangentMode));
        if (IndependentOutputs == true && Strategy == InferenceStrategy.WeightSpace)
            throw new ArgumentException("IndependentOutputs needs one copy of the parameters per output, which the weight-space strategy " +
                                        "does not build; use Dense, FunctionSpace or Auto.", nameof(IndependentOutputs));
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be positive.");
        if (InputShape is { } shape && (shape.Length == 0 || shape.Any(d => d <= 0)))
            throw new ArgumentOutOfRangeException(nameof(InputShape), $"[{string.Join(", ", shape)}]", "Every InputShape dimension must be positive.");
        if ((ChannelMeans is null) != (ChannelStandardDeviations is null))
            throw new ArgumentException("Give both ChannelMeans and ChannelStandardDeviations, or neither.", nameof(ChannelMeans));
        if (ChannelStandardDeviations is { } std && std.Any(s => !(s > 0 && float.IsFinite(s))))
            throw new ArgumentOutOfRangeException(nameof(ChannelStandardDeviations), "Every channel standard deviation must be positive and finite.");
        if (ChannelMeans is { } means && (means.Length != ChannelStandardDeviations!.Length || means.Any(m => !float.IsFinite(m))))
            throw new ArgumentException($"ChannelMeans ({means.Length} values) and ChannelStandardDeviations ({ChannelStandardDeviations!.Length}) " +
                                        "must be finite and of the same length.", nameof(ChannelMeans));
    }
}
