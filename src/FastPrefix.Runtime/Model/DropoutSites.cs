using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// Where each dropout of a forward pass reads its seed in the step's staged seeds: one 64-bit seed per site, derived
/// on the host from the step's seed (so masks are identical on every backend and can be regenerated in the backward).
/// </summary>
public static class DropoutSites
{
    public const int Prefix = 0, Head = 1, Embeddings = 2;
    const int FirstLayerSite = 3, PerLayer = 3;

    /// <summary>Sites of layer l: attention output, feed-forward output, attention probabilities.</summary>
    public static int AttentionOutput(int layer) => FirstLayerSite + PerLayer * layer;
    public static int FeedForwardOutput(int layer) => FirstLayerSite + PerLayer * layer + 1;
    public static int AttentionProbs(int layer) => FirstLayerSite + PerLayer * layer + 2;

    public static int Count(int layers) => FirstLayerSite + PerLayer * layers;

    /// <summary>Fills every site's seed from the step seed (the derivations of the original host-side engine).</summary>
    public static void Write(StepStaging staging, StagingRegion seeds, int layers, ulong stepSeed)
    {
        staging.WriteSeed(seeds, Prefix, DropoutHash.Derive(stepSeed, 1));
        staging.WriteSeed(seeds, Head, DropoutHash.Derive(stepSeed, 3));
        ulong encoder = DropoutHash.Derive(stepSeed, 2);
        staging.WriteSeed(seeds, Embeddings, DropoutHash.Derive(encoder, Site(-1, 0)));
        for (int l = 0; l < layers; l++)
        {
            staging.WriteSeed(seeds, AttentionOutput(l), DropoutHash.Derive(encoder, Site(l, 1)));
            staging.WriteSeed(seeds, FeedForwardOutput(l), DropoutHash.Derive(encoder, Site(l, 2)));
            staging.WriteSeed(seeds, AttentionProbs(l), DropoutHash.Derive(encoder, Site(l, 3)));
        }
    }

    static ulong Site(int layer, int site) => (ulong)(layer + 1) * 16 + (ulong)site;
}
