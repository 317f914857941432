using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Connectors.WeChatPay.Models;

namespace Hutong.Connectors.Tests.WeChatPay;

/// <summary>
/// The merchant-transfer (商家转账) wire shapes against examples published outside the project: the request example of
/// wechatpay-im/website openapi/v3/fund-app/mch-transfer/transfer-bills.md (wechatpay-php docs), and the decrypted
/// MCHTRANSFER.BILL.FINISHED resource of TheNorthMemory/wechatpay.js.org webhook/v3/MCHTRANSFER.BILL.FINISHED.md.
/// </summary>
public class TransferBillVectorTests
{
    [Fact]
    public void The_request_carries_the_documented_field_names_and_values()
    {
        // wechatpay-im/website transfer-bills.md, 'json' of the example call.
        var json = JsonSerializer.Serialize(new WxTransferBillRequest("wxf636efh567hg4356", "plfk2020042013", "1000", "o-MYE42l80oelYMDE34nYD456Xoy",
            "757b340b45ebef5467rter35gf464344v3542sdf4t6re4tb4f54ty45t4yyry45", 400000, "2020年4月报销", "https://www.weixin.qq.com/wxpay/pay.php", "现金奖励",
            [new WxTransferSceneReportInfo("活动名称", "注册会员有礼")]), WxTransferJson.Default.WxTransferBillRequest);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(
            ["appid", "out_bill_no", "transfer_scene_id", "openid", "user_name", "transfer_amount", "transfer_remark", "notify_url", "user_recv_perception", "transfer_scene_report_infos"],
            doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(400000, doc.RootElement.GetProperty("transfer_amount").GetInt64()); // fen, a JSON number
        Assert.Equal("活动名称", doc.RootElement.GetProperty("transfer_scene_report_infos")[0].GetProperty("info_type").GetString());
    }

    [Fact]
    public void The_partner_request_names_the_sub_merchant_first_and_otherwise_carries_the_same_fields()
    {
        // wechatpay-im/website openapi/v3/fund-app/mch-transfer/partner/transfer-bills.md, 'json' of the example call
        // (official page https://pay.weixin.qq.com/doc/v3/partner/4015469096).
        var json = JsonSerializer.Serialize(new WxPartnerTransferBillRequest("1900001121", "wxf636efh567hg4356", "plfk2020042013", "1000", "o-MYE42l80oelYMDE34nYD456Xoy",
            "757b340b45ebef5467rter35gf464344v3542sdf4t6re4tb4f54ty45t4yyry45", 400000, "2020年4月报销", "https://www.weixin.qq.com/wxpay/pay.php", "现金奖励",
            [new WxTransferSceneReportInfo("活动名称", "注册会员有礼")]), WxTransferJson.Default.WxPartnerTransferBillRequest);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(
            ["sub_mchid", "appid", "out_bill_no", "transfer_scene_id", "openid", "user_name", "transfer_amount", "transfer_remark", "notify_url", "user_recv_perception", "transfer_scene_report_infos"],
            doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("1900001121", doc.RootElement.GetProperty("sub_mchid").GetString());
        Assert.Equal("""{"sub_mchid":"1900001109"}""", JsonSerializer.Serialize(new WxPartnerCancelTransferRequest("1900001109"), WxTransferJson.Default.WxPartnerCancelTransferRequest));
    }

    [Fact]
    public void The_partner_query_answer_names_the_service_provider_and_the_sub_merchant()
    {
        // wechatpay-im/website …/partner/transfer-bills/out-bill-no/{out_bill_no}.md, 返回字典: sub_mchid, mchid, …, state.
        const string plain = """
            {"sub_mchid":"1900001121","mchid":"1900001109","out_bill_no":"plfk2020042013","transfer_bill_no":"1330000071100999991182020050700019480001",
             "appid":"wxf636efh567hg4356","state":"SUCCESS","transfer_amount":400000,"transfer_remark":"2020年4月报销",
             "openid":"o-MYE42l80oelYMDE34nYD456Xoy","create_time":"2015-05-20T13:29:35.120+08:00","update_time":"2015-05-20T13:29:35.120+08:00"}
            """;
        var bill = JsonSerializer.Deserialize(plain, WxTransferJson.Default.WxTransferBill)!;
        Assert.Equal(("1900001109", "1900001121"), (bill.NoticeMchId, bill.SubMchId));
        Assert.Equal(PayoutWalletState.Succeeded, WeChatPayConnector.MapBill(bill, bill.State!).State);
    }

    [Fact]
    public void The_finished_notification_resource_reads_as_a_bill()
    {
        // wechatpay.js.org MCHTRANSFER.BILL.FINISHED.md, "resource.ciphertext 解密后的明文格式".
        const string plain = """
            {"mchid":"1900001109","out_bill_no":"plfk2020042013","transfer_bill_no":"1330000071100999991182020050700019480001","state":"ACCEPTED",
             "transfer_amount":400000,"fail_reason":"PAYEE_ACCOUNT_ABNORMAL","openid":"o-MYE42l80oelYMDE34nYD456Xoy",
             "create_time":"2015-05-20T13:29:35.120+08:00","update_time":"example_update_time"}
            """;
        var bill = JsonSerializer.Deserialize(plain, WxTransferJson.Default.WxTransferBill)!;
        Assert.Equal("1900001109", bill.NoticeMchId);
        Assert.Equal("plfk2020042013", bill.OutBillNo);
        Assert.Equal(400000, bill.TransferAmount);
        Assert.Equal(PayoutWalletState.Processing, WeChatPayConnector.MapBill(bill, bill.State!).State); // ACCEPTED: still open
    }

    [Theory]
    [InlineData("WAIT_USER_CONFIRM", PayoutWalletState.AwaitingConfirmation)]
    [InlineData("TRANSFERING", PayoutWalletState.Processing)]
    [InlineData("PROCESSING", PayoutWalletState.Processing)]
    [InlineData("SUCCESS", PayoutWalletState.Succeeded)]
    [InlineData("FAIL", PayoutWalletState.Failed)]
    [InlineData("CANCELING", PayoutWalletState.Canceling)]
    [InlineData("CANCELLED", PayoutWalletState.Canceled)]
    public void Each_documented_state_maps(string state, PayoutWalletState expected)
    {
        var r = WeChatPayConnector.MapBill(new WxTransferBill(null, null, "n", "t", state, 1, state == "FAIL" ? "NAME_NOT_CORRECT" : null, state == "WAIT_USER_CONFIRM" ? "pkg" : null), state);
        Assert.Equal(expected, r.State);
        Assert.Equal(state == "WAIT_USER_CONFIRM" ? "pkg" : null, r.PackageInfo);
        if (state == "FAIL")
        {
            Assert.Equal("NAME_NOT_CORRECT", r.Error!.Code);
        }
    }
}
