// This file is laid out as ML.NET Model Builder writes <Name>.training.cs: Train reads the file, RetrainPipeline fits the
// pipeline BuildPipeline makes, SaveModel writes the .mlnet file. The trainer is Ntk, adapting a network pretrained on a
// reference sensor (PretrainedNetworkPath) to this sensor from a few dozen rows.
using Microsoft.ML;

namespace Microsoft.ML.Ntk.Examples.ModelBuilderStyle;

public partial class SensorModel
{
    public const string RetrainFilePath = @"sensor-target.csv";
    public const char RetrainSeparatorChar = ',';
    public const bool RetrainHasHeader = true;

    /// <summary>The pretrained network's weights (an MLP 2-32-32-1, tanh), as <see cref="ReferenceSensor.Pretrain"/> writes them.</summary>
    public static string PretrainedNetworkPath = Path.GetFullPath("reference-sensor-mlp.bin");

    /// <summary>Trains on the file and saves the model to <paramref name="outputModelPath"/>.</summary>
    public static void Train(string outputModelPath, string inputDataFilePath = RetrainFilePath, char separatorChar = RetrainSeparatorChar,
                             bool hasHeader = RetrainHasHeader)
    {
        var mlContext = new MLContext(seed: 1);
        var data = LoadIDataViewFromFile(mlContext, inputDataFilePath, separatorChar, hasHeader);
        var model = RetrainPipeline(mlContext, data);
        SaveModel(mlContext, model, data, outputModelPath);
    }

    public static IDataView LoadIDataViewFromFile(MLContext mlContext, string inputDataFilePath, char separatorChar, bool hasHeader) =>
        mlContext.Data.LoadFromTextFile<ModelInput>(inputDataFilePath, separatorChar, hasHeader);

    public static void SaveModel(MLContext mlContext, ITransformer model, IDataView data, string modelSavePath)
    {
        DataViewSchema dataViewSchema = data.Schema;
        using var fs = File.Create(modelSavePath);
        mlContext.Model.Save(model, dataViewSchema, fs);
    }

    /// <summary>Fits the pipeline of <see cref="BuildPipeline"/> to the data.</summary>
    public static ITransformer RetrainPipeline(MLContext mlContext, IDataView trainData)
    {
        var pipeline = BuildPipeline(mlContext);
        var model = pipeline.Fit(trainData);
        return model;
    }

    /// <summary>The features as the pretrained network saw them (temperature and humidity, unscaled), then the Ntk regression trainer.</summary>
    public static IEstimator<ITransformer> BuildPipeline(MLContext mlContext)
    {
        var network = PretrainedNetwork.FromArchitecture(ReferenceSensor.Architecture, PretrainedNetworkPath);
        var pipeline = mlContext.Transforms.Concatenate(@"Features", new[] { @"Temperature", @"Humidity" })
                                .Append(mlContext.Regression.Trainers.Ntk(new NtkRegressionTrainer.Options
                                {
                                    Network = network, LabelColumnName = @"Reading", FeatureColumnName = @"Features",
                                }));
        return pipeline;
    }
}
