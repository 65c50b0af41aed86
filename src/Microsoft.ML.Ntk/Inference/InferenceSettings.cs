namespace Microsoft.ML.Ntk.Inference;

/// <summary>
/// The numbers of this layer that decide behaviour (budgets, tolerances, iteration limits, search ranges), each with why it
/// has its value, in one place.
/// </summary>
internal static class InferenceSettings
{
    /// <summary>The largest n for the dense strategy: an n² float64 kernel of 200 MB and a Cholesky of a few seconds.</summary>
    public const long DenseLimit = 5000;

    /// <summary>The most bytes the weight-space variance basis (P × Lanczos steps) may take: 2 GiB.</summary>
    public const long WeightSpaceBasisBudget = 2L << 30;

    /// <summary>
    /// The most bytes the softmax Laplace posterior may hold in n × n float64 matrices: the kernel, the matrix B and its
    /// Cholesky factor, and two temporaries while B is formed, five in all (n = 11,500 at 5 GiB, what the dense regression
    /// already takes at n = 5,000). Its cost grows as n³/3 flops per Newton step (about 1.7 s at n = 9,000 on two cores);
    /// with independent outputs the evidence search costs C factorizations of N × N per step instead, and only the final
    /// mode one of n × n.
    /// </summary>
    public const long LaplaceMemoryBudget = 5L << 30;

    /// <summary>n × n float64 matrices the softmax Laplace fit holds at once.</summary>
    public const int LaplaceMatrices = 5;

    /// <summary>
    /// The most bytes a fitted posterior may keep to make predictions cheap: the projected training Jacobian Rᵀ J(X),
    /// N·C × P float64 values (1 GiB: N·C = 1,000 rows of 134k parameters).
    /// </summary>
    public const long PredictionMemoryBudget = 1L << 30;

    /// <summary>
    /// The variance error a low-rank projection (<see cref="LowRankProjection"/>) may leave, as a fraction of each output's
    /// prior variance: 1e-3, below the spread of variances between draws of the training data in every experiment here,
    /// and one-sided (the variances come out larger, never smaller).
    /// </summary>
    public const double LowRankVarianceError = 1e-3;

    /// <summary>
    /// How far a predictive variance may lie above the exact one, as a fraction of it, when the projected training Jacobian is
    /// cut to the directions that matter (<see cref="SpectralTruncation"/>): 1e-3, far below the Laplace approximation's own error
    /// and the spread between draws of the training data. One-sided: the variances come out larger, never smaller.
    /// </summary>
    public const double PredictionVarianceTolerance = 1e-3;

    /// <summary>The most rows of W for which that cut is tried (its m × m eigendecomposition takes about 0.4 s at 1,250 rows here).</summary>
    public const long TruncationMaxRows = 2048;

    /// <summary>The first block of Gaussian tangents of a low-rank projection (each later block is twice as wide): 32.</summary>
    public const long LowRankFirstBlock = 32;

    /// <summary>The most Newton iterations of one softmax mode (warm-started modes take two or three; a cold one about ten).</summary>
    public const int MaxNewtonIterations = 100;

    /// <summary>The smallest relative gradient asked for: float64 products of K0 leave about 1e-13 of it as noise.</summary>
    public const double RoundingFloor = 1e-12;

    /// <summary>
    /// The relative residual to which conjugate gradients solve a Newton step of the softmax mode with independent outputs
    /// (<see cref="CurvatureKernelOperator"/>): 1e-8, far below the step's own error (Newton's method converges
    /// quadratically, and the line search and the gradient test judge every step on the true objective). The solve is
    /// for the step, whose right-hand side shrinks towards the mode. On 1,000 Fashion-MNIST images of ten classes 1e-8
    /// took 922 conjugate-gradient steps in the whole fit against 1,197 at 1e-10, with the same Newton iterations, s²,
    /// evidence (to 1e-6 nats) and covariance scale.
    /// </summary>
    public const double NewtonConjugateGradientTolerance = 1e-8;

    /// <summary>
    /// The most conjugate-gradient steps of one Newton step before the step by factors is taken instead. Preconditioned
    /// (<see cref="NewtonPreconditionerRank"/>), a Newton step of 1,000 Fashion-MNIST images took 15–35 steps of 8 ms, against
    /// 0.35 s for the step by factors; unpreconditioned it took 471.
    /// </summary>
    public const int NewtonConjugateGradientSteps = 100;

    /// <summary>
    /// The rank r of the pivoted Cholesky factor of each K_c in the preconditioner of conjugate-gradient Newton steps
    /// (<see cref="CurvaturePreconditioner"/>). On 1,000 Fashion-MNIST images (s² = 0.66), ranks 50, 100, 200 and 400 gave
    /// 21, 15, 11 and 8 steps, but the factor and the C·r × C·r Cholesky grow as r² and r³: 50 was the fastest.
    /// </summary>
    public const int NewtonPreconditionerRank = 50;

    /// <summary>
    /// Newton iterations in a row without a 10 % smaller gradient and without a decrease of the objective beyond its rounding
    /// after which the solve counts as stagnated (<see cref="NewtonProgress"/>).
    /// </summary>
    public const int StagnantIterations = 3;

    /// <summary>
    /// The most sweeps of iterative refinement of a Newton step by factors with independent outputs (IndependentLaplace): each
    /// costs C products with an N × N block, against C factorizations for the step itself; two took the step from about 1e-8
    /// to rounding on 1,000 Fashion-MNIST images, where Σ_c E_c is ill-conditioned.
    /// </summary>
    public const int NewtonRefinements = 2;

    /// <summary>
    /// A decrease of the Newton objective below 1e-12 of its size is rounding: float64 sums of N·C terms of that size carry
    /// errors of about N·C · 1e-16 of it, 1e-12 at N·C = 10,000.
    /// </summary>
    public const double NewtonObjectiveRounding = 1e-12;

    /// <summary>
    /// The largest N·C at which a softmax fit that was not told <c>IndependentOutputs</c> uses the full kernel (one N·C × N·C
    /// factorization per Newton step, about 0.2 s at 2,000 on 2 cores); beyond it, independent outputs (C factorizations of
    /// N × N). On Fashion-MNIST the two were within 0.02–0.06 in accuracy either way up to N·C = 1,000 (the full kernel ahead
    /// at 1 label per class, independent outputs at 5 and 10), and at N·C = 10,000 (1,000 images of ten classes) the full kernel
    /// took 470 s against 16 s in one benchmark run.
    /// Every table of the examples up to N·C = 1,250 keeps the full kernel.
    /// </summary>
    public const long FullKernelLimit = 2_000;

    /// <summary>
    /// How far from its center (s² = 1 / mean k0(x, x), or the pilot's maximum, <see cref="EvidenceSearch"/>) the evidence
    /// search goes, in log s²: e^±16. At e^±8 the evidence was largest at the
    /// upper edge in three of four Fashion-MNIST fits with independent outputs (the walk uphill stops early when it is not).
    /// </summary>
    public const double EvidenceSearchHalfWidth = 16;

    /// <summary>The evidence search's walk uphill from 1 / mean k0(x, x), in log s²: steps of 2 (a factor e² in s²).</summary>
    public const double EvidenceSearchStep = 2;

    /// <summary>
    /// The inputs of the evidence search's pilot (<see cref="EvidenceSearch"/>): about 200, chosen class-stratified. Its
    /// factorizations cost (200 / N)³ of the full search's: at N = 1,000 its whole search costs less than one evaluation on
    /// all inputs.
    /// </summary>
    public const int EvidencePilotInputs = 200;

    /// <summary>The fewest inputs for which the pilot runs: 800, where each of its evaluations costs at most 1/64 of one on all inputs.</summary>
    public const int EvidencePilotMinimumInputs = 800;

    /// <summary>
    /// The first step of the walk on all inputs from the pilot's maximum, in log s²: 0.25, each further step uphill twice the
    /// one before (<see cref="EvidencePilotStepGrowth"/>). The maximum of a fifth of the inputs lies near that of all of them
    /// (on 1,000 Fashion-MNIST images 0.05 away in log s²), so a short first step brackets it closely, and the parabola
    /// through the bracket's points is near the evidence's own shape. With steps of 1 that search took six evaluations on all
    /// inputs, and with steps of 0.5 it stopped after three, 0.046 nats below the maximum: the parabola through points 0.5
    /// apart on the skewed top promised less than <see cref="EvidenceSearchValueTolerance"/>. With 0.25 it took four and
    /// reached the maximum (to 0.0002 nats). Growing steps keep a pilot that is further off from costing an evaluation per 0.25.
    /// </summary>
    public const double EvidencePilotStep = 0.25;

    /// <summary>The factor by which each step of the walk from the pilot's maximum grows over the one before (<see cref="EvidencePilotStep"/>): 2.</summary>
    public const double EvidencePilotStepGrowth = 2;

    /// <summary>
    /// The relative gradient each mode of the evidence search is solved to: the objective's error is then about 1e-12 of its
    /// scale, far below the evidence differences that decide; the final mode goes to the fit's tolerance (at most 1e-9).
    /// </summary>
    public const double EvidenceSearchModeTolerance = 1e-6;

    /// <summary>
    /// Each mode of the evidence search may also stop once its objective is provably within 1e-6 nats of the mode (the bound
    /// ½ s² |g|² of <see cref="ModeAccuracy"/>): far below the evidence differences between points of the search (the last
    /// ones of a search on 1,000 random-label images differed by 1e-3 nats).
    /// </summary>
    public const double EvidenceSearchObjectiveAccuracy = 1e-6;

    /// <summary>
    /// The width, in log s², of the evidence search's final bracket: 0.1, so s² is known to about 10 %. The Laplace evidence is
    /// flat near its maximum (on 1,000 random-label images the last six evaluations of a 2 % search differed by 0.003 nats),
    /// and a 10 % change of s² moves predictions far less than the posterior's own uncertainty about s².
    /// </summary>
    public const double EvidenceSearchTolerance = 0.1;

    /// <summary>
    /// The evidence search also stops when the parabola through its three best points promises less than 0.01 nats more than
    /// the best evidence found: a posterior odds of 1.01 between the two values of s², which no prediction can tell apart.
    /// Near its maximum the Laplace evidence is a wide, shallow function of log s² (on 1,000 random-label images it moved by
    /// 0.01 nats over a factor 1.4 of s²), so this ends the search before the bracket reaches 10 %.
    /// </summary>
    public const double EvidenceSearchValueTolerance = 0.01;

    /// <summary>
    /// The folds of the held-out choice of the covariance scale (<see cref="CovarianceScaleSelection"/>): 5, so that each
    /// fold's mode sees four fifths of the labels, as the fine-tuning baselines hold out a fifth. With fewer inputs than
    /// folds, one input per fold.
    /// </summary>
    public const int CovarianceScaleFolds = 5;

    /// <summary>
    /// The covariance scales τ tried, 1 (the Laplace covariance itself) down to 10⁻³ in quarter decades. On Fashion-MNIST
    /// (one draw each of 10 and 50 labels per class, both shifts) the test NLL was lowest between τ = 0.03 and 0.1 and
    /// changed little across that range (README, "Calibration"); 10⁻³ keeps some of the variance's ordering.
    /// </summary>
    public static readonly double[] CovarianceScaleGrid = Enumerable.Range(0, 13).Select(i => Math.Pow(10, -0.25 * i)).ToArray();

    /// <summary>
    /// The default floor of a learned noise variance: 0.1 % of the mean square of the targets around the prior mean. Chosen on
    /// the sinusoid experiment (README, "Noise"): of the floors 0, 1e-4, 1e-3 and 1e-2 it gave the lowest mean test NLL in both
    /// variants (0.92 and 0.46, against 67 and 444 for pure maximum likelihood), with the test MSE of pure maximum likelihood.
    /// </summary>
    public const double DefaultNoiseFloor = 1e-3;

    /// <summary>
    /// The starting grid of the marginal-likelihood search: σ² at these fractions of var(y − m) above the floor, s² at e^(1.5 i),
    /// i = −7 … 7, times var(y − m) / mean k0(x, x), and BFGS from the best few points (the surface can have a poor local maximum
    /// where the noise explains everything).
    /// </summary>
    public static readonly double[] NoiseGridFractions = { 1e-3, 1e-2, 0.1, 0.5, 0.9 };

    /// <summary>The log offsets of the s² grid (see <see cref="NoiseGridFractions"/>).</summary>
    public static readonly double[] PriorGridOffsets = Enumerable.Range(-7, 15).Select(i => 1.5 * i).ToArray();

    /// <summary>How many of the best grid points BFGS starts from.</summary>
    public const int HyperparameterStarts = 3;
}
