using FastPrefix.IO;
using ScottPlot;

namespace FastPrefix.Training;

/// <summary>curves.png: training loss (left axis) and the main evaluation metric (right axis) per epoch.</summary>
public static class CurvesPlot
{
    public const string FileName = "curves.png";

    public static byte[] RenderPng(IReadOnlyList<EpochSummary> history, string? mainMetric, int width = 800, int height = 500)
    {
        var plot = new Plot();
        try
        {
            plot.Title("Training curves");
            plot.XLabel("epoch");
            plot.YLabel("train loss");
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            if (history.Count > 0)
            {
                double[] xs = [.. history.Select(e => (double)e.Epoch)];
                double[] loss = [.. history.Select(e => double.IsFinite(e.TrainLoss) ? e.TrainLoss : double.NaN)];
                var lossLine = plot.Add.Scatter(xs, loss);
                lossLine.LegendText = "train loss";
                lossLine.Color = Colors.Blue;
                lossLine.LineWidth = 2;
                lossLine.MarkerSize = 6;

                var evaluated = history.Where(e => mainMetric != null && e.Eval != null && e.Eval.TryGetValue(mainMetric, out var v) && double.IsFinite(v)).ToArray();
                if (evaluated.Length > 0)
                {
                    var metricLine = plot.Add.Scatter(
                        evaluated.Select(e => (double)e.Epoch).ToArray(),
                        evaluated.Select(e => e.Eval![mainMetric!]).ToArray());
                    metricLine.LegendText = "eval " + mainMetric;
                    metricLine.Color = Colors.OrangeRed;
                    metricLine.LineWidth = 2;
                    metricLine.MarkerSize = 6;
                    metricLine.Axes.YAxis = plot.Axes.Right;
                    plot.Axes.Right.Label.Text = "eval " + mainMetric;
                    var best = evaluated.LastOrDefault(e => e.IsBest);
                    if (best != null)
                    {
                        var marker = plot.Add.Marker(best.Epoch, best.Eval![mainMetric!], MarkerShape.OpenCircle, 14, Colors.Green);
                        marker.LegendText = "best";
                        marker.Axes.YAxis = plot.Axes.Right;
                    }
                }
                plot.ShowLegend(Edge.Bottom);
            }
            return plot.GetImageBytes(width, height, ImageFormat.Png);
        }
        finally { plot.Dispose(); }
    }

    /// <summary>Renders and writes the plot atomically.</summary>
    public static void Write(string path, IReadOnlyList<EpochSummary> history, string? mainMetric) =>
        AtomicFile.WriteAllBytes(path, RenderPng(history, mainMetric));
}
