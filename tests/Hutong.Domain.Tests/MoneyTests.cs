namespace Hutong.Domain.Tests;

public class MoneyTests
{
    [Theory]
    [InlineData(1234, "CNY", "12.34", "¥12.34")]
    [InlineData(5, "CNY", "0.05", "¥0.05")]
    [InlineData(-250, "CNY", "-2.50", "-¥2.50")]
    [InlineData(0, "CNY", "0.00", "¥0.00")]
    [InlineData(500, "JPY", "500", "¥500")]
    [InlineData(9_007_199_254_740_993, "CNY", "90071992547409.93", "¥90071992547409.93")] // beyond double precision
    public void Formats_minor_units_exactly(long minor, string currency, string major, string display)
    {
        var m = Money.Of(minor, currency);
        Assert.Equal(major, m.ToMajorString());
        Assert.Equal(display, m.ToDisplayString());
    }

    [Fact]
    public void Adding_different_currencies_is_refused() =>
        Assert.Throws<InvalidOperationException>(() => Money.Of(1, "CNY").Add(Money.Of(1, "USD")));

    [Fact]
    public void Overflow_is_refused_not_wrapped() =>
        Assert.Throws<OverflowException>(() => Money.Of(long.MaxValue, "CNY").Add(Money.Of(1, "CNY")));

    [Fact]
    public void Add_and_subtract_keep_the_currency()
    {
        var sum = Money.Of(1000, "CNY").Add(Money.Of(234, "CNY")).Subtract(Money.Of(34, "CNY"));
        Assert.Equal(1200, sum.Minor);
        Assert.Equal("CNY", sum.Currency.Code);
    }

    [Theory]
    [InlineData("cny", true)]
    [InlineData("CNY", true)]
    [InlineData("XXX", false)]
    [InlineData(null, false)]
    public void Currency_codes_parse_case_insensitively(string? code, bool ok) => Assert.Equal(ok, Currency.TryParse(code, out _));

    [Fact]
    public void Ids_made_in_the_same_millisecond_still_sort_in_creation_order()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        var ids = Enumerable.Range(0, 10_000).Select(_ => Ids.New(Ids.Payment, at)).ToList();
        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var g = Guid.Parse(ids[0][4..]);
        Assert.Equal(7, g.Version);
        Assert.Equal(1_800_000_000_000, Convert.ToInt64(ids[0][4..16], 16)); // the first 48 bits are the milliseconds
    }

    [Fact]
    public void Ids_are_prefixed_time_ordered_and_checkable()
    {
        var a = Ids.New(Ids.Payment, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
        var b = Ids.New(Ids.Payment, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_001));
        Assert.True(string.CompareOrdinal(a, b) < 0);
        Assert.True(Ids.HasPrefix(a, Ids.Payment));
        Assert.False(Ids.HasPrefix(a, Ids.Merchant));
        Assert.False(Ids.HasPrefix("pay_123", Ids.Payment));
        Assert.True(Ids.Token().Length >= 22); // ≥128 bits
    }
}
