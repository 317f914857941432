using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;

namespace Hutong.Connectors.Tests.Bills;

/// <summary>
/// The WeChat Pay profit-sharing bill (分账账单). The sample is written by hand in the layout of WeChat's 申请分账账单
/// page (https://pay.weixin.qq.com/doc/v3/merchant/4012529628: one header row, detail rows with a backtick before every
/// cell, amounts in yuan, a summary part after the details) with the 13 detail columns in the order an open-source parser
/// of the real file reads them (GitHub, `com.ruoyi.pay.wechat.entity.AWechatShareBill`: row[0] 分账时间 … row[12] 备注;
/// see docs/settlement-payouts.md).
/// </summary>
public class ProfitSharingBillParserTests
{
    private static string Row(params string[] cells) => string.Join(',', cells.Select(c => "`" + c));

    private const string Sample =
        "\uFEFF分账时间,分账发起方,分账方,微信订单号,微信分账/回退单号,分账明细单号,商户分账/回退单号,订单金额,分账接收方,金额,业务类型,处理状态,备注\r\n"
        + "`2026-11-22 10:01:02,`1900000100,`1900000109,`4208450740201411110007820472,`30000100002019061111111111,`30000100002019061111111111001,`P20150806125346,`100.00,`1900000110,`9.94,`分账,`成功,`平台抽成, 10%\r\n"
        + "`2026-11-22 10:01:02,`1900000100,`1900000109,`4208450740201411110007820472,`30000100002019061111111111,`30000100002019061111111111002,`P20150806125346,`100.00,`oxTWIuGaIt6gTKsQRLau2M0yL16E,`5.00,`分账,`成功,`\r\n"
        + "`2026-11-22 18:30:00,`1900000100,`1900000109,`4208450740201411110007820472,`30000100002019061122222222,`30000100002019061122222222001,`R20150806125346,`100.00,`1900000110,`4.97,`回退,`成功,`\r\n"
        + "分账总笔数,分账总金额\r\n`3,`19.91\r\n";

    [Fact]
    public void Rows_become_splits_and_returns_in_exact_fen()
    {
        var lines = WeChatPayProfitSharingBill.Parse(Sample);
        Assert.Equal(3, lines.Count); // the summary part is not read as rows; 备注 "平台抽成, 10%" holds a comma
        Assert.Equal(new SplitBillLine(SplitBillLineKind.Split, "4208450740201411110007820472", "P20150806125346", "1900000110", 994, "成功",
            new DateTimeOffset(2026, 11, 22, 10, 1, 2, TimeSpan.FromHours(8))), lines[0]);
        Assert.Equal(("oxTWIuGaIt6gTKsQRLau2M0yL16E", 500L), (lines[1].Receiver, lines[1].AmountMinor));
        Assert.Equal((SplitBillLineKind.Return, "R20150806125346", 497L), (lines[2].Kind, lines[2].OutOrderNo, lines[2].AmountMinor));
    }

    [Fact]
    public void A_row_without_backticks_is_read_by_commas()
    {
        var csv = WeChatPayProfitSharingBill.Header + "\n`2026-11-22 10:01:02,1900000100,1900000109,4200,3000,3000001,P1,1.00,1900000110,0.10,分账,成功,\n";
        Assert.Equal(10, Assert.Single(WeChatPayProfitSharingBill.Parse(csv)).AmountMinor);
    }

    [Theory]
    [InlineData("not a bill")]
    [InlineData("分账时间,分账发起方\r\n`x,`y")]
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`2026-11-22 10:01:02,`1,`2,`3,`4,`5,`P1,`1.00,`R,`abc,`分账,`成功,`")] // amount not yuan
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`2026-11-22 10:01:02,`1,`2,`3,`4,`5,`P1,`1.00,`R,`0.10,`转账,`成功,`")] // unknown 业务类型
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`yesterday,`1,`2,`3,`4,`5,`P1,`1.00,`R,`0.10,`分账,`成功,`")] // no time
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`2026-11-22 10:01:02,`1,`2,`3,`4,`5,`,`1.00,`R,`0.10,`分账,`成功,`")] // no out_order_no
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`2026-11-22 10:01:02,`1,`2,`3")] // short row
    [InlineData(WeChatPayProfitSharingBill.Header + "\r\n`2026-11-22 10:01:02,`1,`2,`3,`4,`5,`P1,`1.00,`R,`-0.10,`分账,`成功,`")] // negative
    public void Garbled_bills_are_refused_with_a_format_error(string csv) =>
        Assert.Throws<BillFormatException>(() => WeChatPayProfitSharingBill.Parse(csv));
}
