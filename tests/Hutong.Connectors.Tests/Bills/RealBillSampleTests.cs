using Hutong.Connectors.Abstractions;
using Hutong.Connectors.Alipay;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.Bills;

/// <summary>Bills in the wallets' real format, from outside the project (Samples/SOURCES.md), read by our parsers.</summary>
public class RealBillSampleTests
{
    [Fact]
    public void WeChat_official_fixture_with_five_decimal_fees_parses_and_adds_up()
    {
        var lines = WeChatPayBill.Parse(Samples.Text("WeChatPay", "tradebill-ALL.csv"));

        Assert.Equal(45, lines.Count);
        Assert.Equal(14, lines.Count(l => l.Kind == BillLineKind.Refund));
        Assert.Equal(47, lines.Where(l => l.Kind == BillLineKind.Payment).Sum(l => l.AmountMinor));
        Assert.Equal(8, lines.Sum(l => l.FeeMinor)); // eight fees of `0.01000`
        var refund = lines.First(l => l.Kind == BillLineKind.Refund);
        Assert.Equal(("autotest_20190216081946_82335", "REF4200000263201902167700963919", 1L), (refund.OutTradeNo, refund.OutRefundNo, refund.AmountMinor));
    }

    [Theory]
    [InlineData("`0.05940", 6)] // 5.94 fen settles as 6
    [InlineData("`0.05949", 6)]
    [InlineData("`0.05449", 5)]
    public void WeChat_five_decimal_fees_are_compared_exactly_and_settled_to_the_fen(string fee, long fen)
    {
        var text = Samples.Text("WeChatPay", "tradebill-ALL.csv");
        var nl = text.IndexOf('\n', StringComparison.Ordinal);
        var row = text[(nl + 1)..text.IndexOf('\n', nl + 1)];
        var cells = row.Split(",`");
        var payment = string.Join(",`", cells.Select((c, i) => i switch { 9 => "SUCCESS", 12 => "1.00", 16 => "0.00", 22 => fee[1..], _ => c }));
        var totalsHeader = text.IndexOf("总交易单数", StringComparison.Ordinal);
        var exact = fee[1..];
        var bill = text[..(nl + 1)] + payment + "\n" + text[totalsHeader..text.IndexOf('\n', totalsHeader)] + $"\n`1,`1.00,`0.00,`0.00,`{exact},`1.00,`0.00\n";

        Assert.Equal(fen, WeChatPayBill.Parse(bill).Single().FeeMinor);
        var off = bill.Replace($"`{exact},`1.00,`0.00\n", "`0.05941,`1.00,`0.00\n", StringComparison.Ordinal);
        Assert.Throws<BillFormatException>(() => WeChatPayBill.Parse(off)); // compared at 0.00001 yuan
    }

    [Fact]
    public void Alipay_real_business_detail_with_its_real_footer_parses()
    {
        var lines = AlipayBill.Parse(Samples.Text("Alipay", "trade-bill-业务明细.csv"));

        Assert.Equal(6, lines.Count(l => l.Kind == BillLineKind.Payment));
        Assert.Equal(4, lines.Count(l => l.Kind == BillLineKind.Refund));
        Assert.Equal(6, lines.Where(l => l.Kind == BillLineKind.Payment).Sum(l => l.AmountMinor));
        var refund = lines.First(l => l.Kind == BillLineKind.Refund);
        Assert.Equal(("service_1568601259302", "re_test_1568602607356", 1L), (refund.OutTradeNo, refund.OutRefundNo, refund.AmountMinor));
    }

    [Theory]
    [InlineData("#交易合计：6笔，商家实收共0.06元，商家优惠共0.00元", true)]
    [InlineData("#交易合计：6笔，交易金额共0.06元，商家优惠共0.00元", true)] // older bills
    [InlineData("#交易合计：6笔，商家实收共：0.06元，商家优惠共：0.00元", true)]
    [InlineData("#交易合计：6笔，商家实收共0.07元，商家优惠共0.00元", false)]
    [InlineData("#交易合计：7笔，商家实收共0.06元，商家优惠共0.00元", false)]
    public void Alipay_footer_variants(string footer, bool ok)
    {
        var text = Samples.Text("Alipay", "trade-bill-业务明细.csv").Replace("#交易合计：6笔，商家实收共0.06元，商家优惠共0.00元", footer, StringComparison.Ordinal);
        if (ok)
        {
            Assert.Equal(10, AlipayBill.Parse(text).Count);
        }
        else
        {
            Assert.Throws<BillFormatException>(() => AlipayBill.Parse(text));
        }
    }
}
