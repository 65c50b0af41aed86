using Microsoft.ML.Ntk.Examples.ModelBuilderStyle;

// A console application as Model Builder's "consume" step writes one, with the training step before it:
//   dotnet run --project examples/ModelBuilderStyle [-- working-folder]
// In the working folder (default: the current directory) it writes the pretrained network and the training file if they
// are missing, trains SensorModel.mlnet with SensorModel.Train, and predicts one row with SensorModel.Predict.
string folder = Path.GetFullPath(args.Length > 0 ? args[0] : ".");
Directory.CreateDirectory(folder);
SensorModel.PretrainedNetworkPath = Path.Combine(folder, "reference-sensor-mlp.bin");
SensorModel.MLNetModelPath = Path.Combine(folder, "SensorModel.mlnet");
string trainingFile = Path.Combine(folder, SensorModel.RetrainFilePath);
if (!File.Exists(SensorModel.PretrainedNetworkPath)) ReferenceSensor.Pretrain(SensorModel.PretrainedNetworkPath);
if (!File.Exists(trainingFile)) ReferenceSensor.WriteTargetFile(trainingFile, count: 40, seed: 2);

SensorModel.Train(SensorModel.MLNetModelPath, trainingFile);
var sample = new SensorModel.ModelInput { Temperature = 0.8f, Humidity = -0.3f };
var result = SensorModel.Predict(sample);
double truth = ReferenceSensor.Target(sample.Temperature, sample.Humidity);
Console.WriteLine($"Temperature {sample.Temperature}, humidity {sample.Humidity}: predicted reading {result.Score:F3} ± {1.96 * Math.Sqrt(result.Variance):F3} " +
                  $"(95 %), the sensor's noiseless reading {truth:F3}. Model: {SensorModel.MLNetModelPath}");
