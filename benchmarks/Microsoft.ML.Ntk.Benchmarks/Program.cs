using BenchmarkDotNet.Running;

// Benchmarks of the Jacobian products and of inference arrive with their layers; run with
//   dotnet run -c Release --project benchmarks/Microsoft.ML.Ntk.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
