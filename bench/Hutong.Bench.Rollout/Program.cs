using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Hutong.Domain.Rollout;

// In-process rollout evaluation cost: dotnet run -c Release --project bench/Hutong.Bench.Rollout
BenchmarkRunner.Run<RolloutEvaluation>(args: args);

[MemoryDiagnoser]
[ShortRunJob]
public class RolloutEvaluation
{
    private readonly RolloutRule _percentage = new("alipay", 25);
    private readonly RolloutRule _full = new("alipay", 25, allowUsers: Enumerable.Range(0, 1000).Select(i => $"vip-{i}"),
        denyUsers: Enumerable.Range(0, 1000).Select(i => $"ban-{i}"), categories: ["tea", "books", "shoes"]);

    private readonly string[] _users = Enumerable.Range(0, 1024).Select(i => $"user-{i:D8}").ToArray();
    private int _i;

    [Benchmark(Baseline = true)]
    public bool PercentageOnly() => _percentage.Evaluate(_users[_i++ & 1023], null).Offered;

    [Benchmark]
    public bool ListsCategoriesAndPercentage() => _full.Evaluate(_users[_i++ & 1023], "tea").Offered;

    [Benchmark]
    public int BucketOnly() => StableBucket.Of("wallet:alipay", _users[_i++ & 1023]);
}
