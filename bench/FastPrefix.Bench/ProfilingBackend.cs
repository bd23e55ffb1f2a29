using System.Diagnostics;
using FastPrefix.Backends;

namespace FastPrefix.Bench;

/// <summary>Wraps a backend and accumulates wall time per op, to see where a step's time goes.</summary>
public sealed class ProfilingBackend(IBackend inner) : IBackend
{
    public readonly Dictionary<string, (double Seconds, long Calls)> Times = [];

    void T(string op, Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        var (s, c) = Times.GetValueOrDefault(op);
        Times[op] = (s + Stopwatch.GetElapsedTime(start).TotalSeconds, c + 1);
    }

    public string Name => "profiled " + inner.Name;
    public Tensor Zeros(params int[] shape) => inner.Zeros(shape);
    public Tensor ZerosInt(params int[] shape) => inner.ZerosInt(shape);
    public void Upload(ReadOnlySpan<float> source, Tensor destination) { var s = source.ToArray(); T("upload", () => inner.Upload(s, destination)); }
    public void Upload(ReadOnlySpan<int> source, Tensor destination) { var s = source.ToArray(); T("upload", () => inner.Upload(s, destination)); }
    public void Download(Tensor source, Span<float> destination) => inner.Download(source, destination);
    public void Download(Tensor source, Span<int> destination) => inner.Download(source, destination);
    public void Fill(Tensor t, float value) => T("fill/copy", () => inner.Fill(t, value));
    public void Copy(Tensor src, long so, Tensor dst, long d, long n) => T("fill/copy", () => inner.Copy(src, so, dst, d, n));
    public void Gemm(bool ta, bool tb, int m, int n, int k, float alpha, Tensor a, long ao, Tensor b, long bo, float beta, Tensor c, long co) =>
        T("gemm", () => inner.Gemm(ta, tb, m, n, k, alpha, a, ao, b, bo, beta, c, co));
    public void AddBias(Tensor y, Tensor bias, int rows, int cols) => T("bias/add/mul", () => inner.AddBias(y, bias, rows, cols));
    public void ColumnSums(Tensor dy, Tensor db, int rows, int cols, bool acc) => T("bias/add/mul", () => inner.ColumnSums(dy, db, rows, cols, acc));
    public void Add(Tensor a, Tensor b, Tensor o, long n) => T("bias/add/mul", () => inner.Add(a, b, o, n));
    public void Multiply(Tensor a, Tensor b, Tensor o, long n) => T("bias/add/mul", () => inner.Multiply(a, b, o, n));
    public void Scale(Tensor x, float s, long n) => T("optimizer", () => inner.Scale(x, s, n));
    public double SumOfSquares(Tensor x, long n) { double r = 0; T("optimizer", () => r = inner.SumOfSquares(x, n)); return r; }
    public void Gelu(Tensor x, Tensor y, long n) => T("gelu", () => inner.Gelu(x, y, n));
    public void GeluBackward(Tensor dy, Tensor x, Tensor dx, long n) => T("gelu", () => inner.GeluBackward(dy, x, dx, n));
    public void Tanh(Tensor x, Tensor y, long n) => T("other", () => inner.Tanh(x, y, n));
    public void TanhBackward(Tensor dy, Tensor y, Tensor dx, long n) => T("other", () => inner.TanhBackward(dy, y, dx, n));
    public void Dropout(Tensor x, Tensor y, Tensor mask, long n, float p, ulong seed) => T("dropout", () => inner.Dropout(x, y, mask, n, p, seed));
    public void Embed(Tensor ids, Tensor pos, Tensor types, Tensor w, Tensor p, Tensor t, Tensor o, int rows, int cols) => T("embed", () => inner.Embed(ids, pos, types, w, p, t, o, rows, cols));
    public void LayerNorm(Tensor x, Tensor g, Tensor b, Tensor y, Tensor m, Tensor r, int rows, int cols, float eps) => T("layernorm", () => inner.LayerNorm(x, g, b, y, m, r, rows, cols, eps));
    public void LayerNormBackward(Tensor dy, Tensor x, Tensor g, Tensor m, Tensor r, Tensor dx, int rows, int cols, bool acc) => T("layernorm", () => inner.LayerNormBackward(dy, x, g, m, r, dx, rows, cols, acc));
    public void Attention(in AttentionArgs args) { var a = args; T("attention", () => inner.Attention(a)); }
    public void AttentionBackward(in AttentionArgs args, Tensor dc, Tensor dq, Tensor? dp) { var a = args; T("attention backward", () => inner.AttentionBackward(a, dc, dq, dp)); }
    public void GatherToken(Tensor s, Tensor d, int b, int t, int c, int tok) => T("other", () => inner.GatherToken(s, d, b, t, c, tok));
    public void ScatterTokenAdd(Tensor s, Tensor d, int b, int t, int c, int tok) => T("other", () => inner.ScatterTokenAdd(s, d, b, t, c, tok));
    public void PermutePrefix(Tensor s, Tensor d, int p, int l, int h, int dim, bool toPeft) => T("other", () => inner.PermutePrefix(s, d, p, l, h, dim, toPeft));
    public void BankedLinear(Tensor x, Tensor w, Tensor b, Tensor i, Tensor y, int r, int c, int o) => T("head", () => inner.BankedLinear(x, w, b, i, y, r, c, o));
    public void BankedLinearBackward(Tensor dy, Tensor x, Tensor w, Tensor i, Tensor? dx, Tensor dw, Tensor? db, int r, int c, int o) => T("head", () => inner.BankedLinearBackward(dy, x, w, i, dx, dw, db, r, c, o));
    public void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, long n, float lr, float b1, float b2, float eps, float wd, int step) => T("optimizer", () => inner.AdamW(p, g, m, v, n, lr, b1, b2, eps, wd, step));
    public void Dispose() => inner.Dispose();
}
