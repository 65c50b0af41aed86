namespace Microsoft.ML.Ntk;

/// <summary>How the posterior is computed; all strategies give the same answers up to solver tolerances.</summary>
public enum InferenceStrategy
{
    /// <summary>Chosen from the number of training outputs N·C, the number of adapted parameters P and memory.</summary>
    Auto,

    /// <summary>The explicit N·C × N·C kernel, a Cholesky factor and exact hyperparameter learning: for small N·C.</summary>
    Dense,

    /// <summary>Conjugate gradients on the N·C × N·C kernel system with kernel products: for N·C ≪ P.</summary>
    FunctionSpace,

    /// <summary>Conjugate gradients on the P × P Gauss–Newton system JᵀJ + (σ²/s²) I: for N·C ≫ P.</summary>
    WeightSpace,
}
