using System.Net;
using System.Net.Http.Json;
using Microsoft.ML.Ntk.Examples.Serving;

namespace Microsoft.ML.Ntk.Tests.Examples;

/// <summary>
/// The Serving example over real HTTP on a loopback port: concurrent requests each get what one PredictionEngine gives for
/// the same row (bit-identical), and a malformed row gets a 400 that names the expected length.
/// </summary>
public class ServingTests
{
    [Fact]
    public async Task ConcurrentRequestsAreAnsweredAsOneEngineAnswersThemInTurn()
    {
        using var folder = new TemporaryFolder();
        string path = DemoModel.Create(folder.Path);
        await using var app = ServingApp.Build(path, new[] { "--urls", "http://127.0.0.1:0" });
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        var rows = Enumerable.Range(0, 32).Select(i => new[] { (float)(i * 0.12 - 1.9), (float)(0.6 - i * 0.035) }).ToArray();

        var answers = await Task.WhenAll(rows.Select(async row =>
        {
            using var response = await client.PostAsJsonAsync("/predict", new PredictRequest(row));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
        }));

        var ml = new MLContext();
        var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(ml.Model.Load(path, out _));
        for (int i = 0; i < rows.Length; i++)
        {
            var expected = engine.Predict(new ModelInput { Features = rows[i] });
            Assert.Equal(expected.Score, answers[i].Mean);
            Assert.Equal(expected.Variance, answers[i].Variance);
            Assert.True(answers[i].Lower < answers[i].Mean && answers[i].Mean < answers[i].Upper);
            Assert.Equal(2 * 1.96f * MathF.Sqrt(expected.Variance), answers[i].Upper - answers[i].Lower, 1e-4f);
        }

        using var bad = await client.PostAsJsonAsync("/predict", new PredictRequest(new[] { 1f, 2f, 3f }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("2 values", await bad.Content.ReadAsStringAsync());
        Assert.Contains("Dense on 30 rows", await client.GetStringAsync("/model"));
        await app.StopAsync();
    }
}
