// This file is laid out as ML.NET Model Builder writes <Name>.consumption.cs: the input and output rows, the model's path,
// a lazily created PredictionEngine and a static Predict.
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.Examples.ModelBuilderStyle;

public partial class SensorModel
{
    /// <summary>One row of the training file: the two conditions and the sensor's reading (the label).</summary>
    public class ModelInput
    {
        [LoadColumn(0)]
        [ColumnName(@"Temperature")]
        public float Temperature { get; set; }

        [LoadColumn(1)]
        [ColumnName(@"Humidity")]
        public float Humidity { get; set; }

        [LoadColumn(2)]
        [ColumnName(@"Reading")]
        public float Reading { get; set; }
    }

    /// <summary>What the model gives: the input columns, the feature vector, the predicted reading and its variance.</summary>
    public class ModelOutput
    {
        [ColumnName(@"Temperature")]
        public float Temperature { get; set; }

        [ColumnName(@"Humidity")]
        public float Humidity { get; set; }

        [ColumnName(@"Reading")]
        public float Reading { get; set; }

        [ColumnName(@"Features")]
        public float[] Features { get; set; } = Array.Empty<float>();

        [ColumnName(@"Score")]
        public float Score { get; set; }

        /// <summary>The Ntk trainer's addition to a regression's output: the predictive variance (noise included).</summary>
        [ColumnName(@"Variance")]
        public float Variance { get; set; }
    }

    /// <summary>Where the trained model is read from (Model Builder's convention: beside the working directory); a host may set it first.</summary>
    public static string MLNetModelPath = Path.GetFullPath("SensorModel.mlnet");

    public static readonly Lazy<PredictionEngine<ModelInput, ModelOutput>> PredictEngine = new(() => CreatePredictEngine(), true);

    /// <summary>Predicts one reading with the model at <see cref="MLNetModelPath"/>.</summary>
    public static ModelOutput Predict(ModelInput input)
    {
        var predEngine = PredictEngine.Value;
        return predEngine.Predict(input);
    }

    private static PredictionEngine<ModelInput, ModelOutput> CreatePredictEngine()
    {
        var mlContext = new MLContext();
        ITransformer mlModel = mlContext.Model.Load(MLNetModelPath, out var _);
        return mlContext.Model.CreatePredictionEngine<ModelInput, ModelOutput>(mlModel);
    }
}
