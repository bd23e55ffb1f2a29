using Xunit.Sdk;

namespace FastPrefix.Tests.Support;

/// <summary>Tests tied to a fixture folder by name skip when FASTPREFIX_FIXTURES lacks it, and fail when the repository's copy does.</summary>
public class TestPathsTests
{
    [Fact]
    public void A_named_fixture_missing_from_an_overriding_root_skips_with_the_reason()
    {
        // (The decision is checked, not the skip itself: a SkipException marks this test skipped even when caught.)
        string empty = TestPaths.NewTempDir();
        var skip = TestPaths.LocateFixture(empty, "tiny-bert-a", overridden: true).Problem!.Value;
        Assert.True(skip.Skip);
        Assert.Contains("tiny-bert-a", skip.Message);
        Assert.Contains("FASTPREFIX_FIXTURES", skip.Message);
        Assert.True(TestPaths.LocateFixturesWith(empty, "case.safetensors", overridden: true).Problem!.Value.Skip);
        Assert.Null(TestPaths.LocateFixture(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures"), "tiny-bert-a", overridden: true).Problem);
        Directory.Delete(empty);
    }

    [Fact]
    public void A_fixture_missing_from_the_repository_fails()
    {
        string empty = TestPaths.NewTempDir();
        Assert.False(TestPaths.LocateFixture(empty, "tiny-bert-a", overridden: false).Problem!.Value.Skip);
        Assert.Throws<FailException>(() => TestPaths.ResolveFixture(empty, "tiny-bert-a", overridden: false));
        Assert.Throws<FailException>(() => TestPaths.RequireFixturesWith(empty, "case.safetensors", overridden: false));
        Directory.Delete(empty);
    }

    [Fact]
    public void The_repository_carries_every_named_fixture()
    {
        foreach (var name in new[] { "tiny-bert-a", "small-bert-a", "tokenizer-bert-base-uncased", "tokenizer-roberta-base" })
            Assert.True(Directory.Exists(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", name)), name);
    }
}
