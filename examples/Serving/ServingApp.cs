using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Ntk.Examples.Serving;

/// <summary>The row a request is turned into: the model's feature vector.</summary>
public sealed class ModelInput
{
    [VectorType]
    public float[] Features { get; set; } = Array.Empty<float>();
}

/// <summary>What an Ntk regression model gives per row.</summary>
public sealed class ModelOutput
{
    public float Score { get; set; }
    public float Variance { get; set; }
}

/// <summary>POST /predict's body.</summary>
public sealed record PredictRequest(float[] Features);

/// <summary>POST /predict's answer: the predictive mean, its variance and the central 95 % interval mean ± 1.96 σ.</summary>
public sealed record PredictResponse(float Mean, float Variance, float Lower, float Upper);

/// <summary>
/// The service: the model is loaded once at start-up; each request borrows a PredictionEngine from a pool (an engine is not
/// thread-safe, creating one per request is wasteful; this is the structure of Microsoft.Extensions.ML's
/// PredictionEnginePool), predicts, and returns it. All engines share the one decoded posterior, without a lock.
/// </summary>
public static class ServingApp
{
    public static WebApplication Build(string modelPath, string[]? args = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args ?? Array.Empty<string>());
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        var ml = new MLContext();
        ITransformer model = ml.Model.Load(modelPath, out _);
        var info = NtkModel.Describe(model);
        if (info.Task != NtkTask.Regression)
            throw new InvalidOperationException($"{modelPath} is a {info.Task} model; this service answers with a mean and an interval, for regression.");
        NtkModel.Prepare(model);                 // the decoded posterior and its prediction state, before the first request
        builder.Services.AddSingleton(info);
        builder.Services.AddSingleton<ObjectPool<PredictionEngine<ModelInput, ModelOutput>>>(
            new DefaultObjectPoolProvider { MaximumRetained = Environment.ProcessorCount * 2 }.Create(new EnginePolicy(ml, model)));
        var app = builder.Build();
        app.MapPost("/predict", Predict);
        app.MapGet("/model", (NtkModelInfo model) => Results.Text(model.FitSummary?.ToString() ?? "fitted before summaries were saved"));
        return app;
    }

    private static IResult Predict(PredictRequest request, ObjectPool<PredictionEngine<ModelInput, ModelOutput>> pool)
    {
        if (request.Features is null || request.Features.Length == 0) return Results.BadRequest("The body needs a non-empty 'features' array.");
        var engine = pool.Get();
        try
        {
            var output = engine.Predict(new ModelInput { Features = request.Features });
            float half = 1.96f * MathF.Sqrt(output.Variance);
            return Results.Ok(new PredictResponse(output.Score, output.Variance, output.Score - half, output.Score + half));
        }
        catch (ArgumentException error)
        {
            return Results.BadRequest(error.Message);                     // e.g. a feature vector of the wrong length, or NaN
        }
        finally
        {
            pool.Return(engine);
        }
    }

    private sealed class EnginePolicy(MLContext ml, ITransformer model) : PooledObjectPolicy<PredictionEngine<ModelInput, ModelOutput>>
    {
        public override PredictionEngine<ModelInput, ModelOutput> Create() => ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);

        public override bool Return(PredictionEngine<ModelInput, ModelOutput> engine) => true;
    }
}
