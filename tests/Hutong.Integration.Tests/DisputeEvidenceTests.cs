using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.WeChatPay;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;

namespace Hutong.Integration.Tests;

/// <summary>
/// A merchant's answer to a dispute with evidence images: images uploaded to the hub (POST /v1/files) go to the dispute's
/// wallet with the answer — WeChat Pay's merchant-service images/upload, Alipay's alipay.merchant.image.upload — and the
/// sandboxes hold the very bytes; bad images, too many, a type the wallet does not take and another merchant's file are
/// refused before any wallet call; a wallet that did not answer is asked again with the same image ids; and an independent
/// client (wechatpay-axios-plugin) uploads to the sandbox's images/upload with a signature the sandbox accepts.
/// </summary>
public abstract class DisputeEvidenceTests(HubFixture hub)
{
    /// <summary>A PNG by its magic number, padded to <paramref name="size"/> bytes with random data (so each is distinct).</summary>
    private static byte[] Png(int size = 2_000) => Image([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], size);

    private static byte[] Jpg(int size = 3_000) => Image([0xFF, 0xD8, 0xFF, 0xE0], size);

    private static byte[] Bmp(int size = 1_000) => Image([(byte)'B', (byte)'M'], size);

    private static byte[] Image(byte[] magic, int size)
    {
        var b = RandomNumberGenerator.GetBytes(size);
        magic.CopyTo(b, 0);
        return b;
    }

    private static string Sha256(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private static Task<ApiResponse> UploadAsync(ApiClient m, byte[] content, string filename = "evidence.png", string? purpose = "dispute_evidence", string? key = null)
    {
        var form = new MultipartFormDataContent();
        if (purpose is not null)
        {
            form.Add(new StringContent(purpose), "purpose");
        }

        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", filename);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/files") { Content = form };
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString());
        // Wait for the hub's go-ahead before sending the body: a body over the limit is refused (413) from its
        // Content-Length alone, and without the wait the client could still be writing it when the hub closes (EPIPE).
        request.Headers.ExpectContinue = true;
        return m.SendAsync(request);
    }

    private async Task<(ApiClient M, string MerchantId, string PaymentId, string OutTradeNo)> PaidAsync(string wallet)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var id = await m.CreatePaymentAsync(2_000);
        var code = (await m.ConfirmAsync(id, wallet: wallet)).Json.GetProperty("next_action").GetProperty("code_url").GetString()!;
        (await (wallet == "alipay" ? hub.AlipayBuyerPaysAsync(code) : hub.BuyerPaysAsync(code))).EnsureSuccessStatusCode();
        await m.WaitForStatusAsync(id, "succeeded");
        var outTradeNo = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<string>(
            "SELECT out_trade_no FROM payment_attempts WHERE payment_id = @id AND status = 'succeeded'", new { id }), default);
        return (m, merchantId, id, outTradeNo!);
    }

    /// <summary>A dispute about a paid payment at <paramref name="wallet"/>: the merchant, the payment, the dispute and the wallet's complaint id.</summary>
    private async Task<(ApiClient M, string PaymentId, string DisputeId, string ComplaintId)> DisputeAsync(string wallet)
    {
        if (wallet == "wechatpay")
        {
            var set = await hub.Service<WeChatPayConnector>().SetComplaintNotifyUrlAsync(hub.Hub.BaseUrl + "/notify/wechatpay", default);
            Assert.Equal(WalletCallOutcome.Ok, set.Outcome);
        }

        var (m, _, paymentId, outTradeNo) = await PaidAsync(wallet);
        using var http = new HttpClient { BaseAddress = new Uri(hub.Sandbox.BaseUrl) };
        var filed = wallet == "alipay"
            ? await http.PostAsJsonAsync("/sandbox/alipay/buyer/complain", new { out_trade_no = outTradeNo, content = "商品破损", leaf_category_name = "商品问题" }, SandboxJson.Options)
            : await http.PostAsJsonAsync("/sandbox/wechatpay/buyer/complain", new { out_trade_no = outTradeNo, detail = "商品破损", problem_type = "OTHERS" }, SandboxJson.Options);
        filed.EnsureSuccessStatusCode();
        var complaint = await filed.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var complaintId = complaint.GetProperty(wallet == "alipay" ? "complain_event_id" : "complaint_id").GetString()!;
        var list = await hub.EventuallyAsync(() => m.GetAsync($"/v1/disputes?payment={paymentId}"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "the dispute arrives");
        return (m, paymentId, list.Json.GetProperty("data")[0].GetProperty("id").GetString()!, complaintId);
    }

    private List<Hutong.Sandbox.WeChatPay.SandboxComplaintLog> WeChatResponses(string complaintId)
    {
        var c = hub.Sandbox.WeChat.Complaints.Complaints[complaintId];
        lock (c)
        {
            return c.History.Where(h => h.OperateType == "MERCHANT_RESPONSE").ToList();
        }
    }

    private List<Hutong.Sandbox.Alipay.AlipaySandboxComplaintReply> AlipayReplies(string complaintId)
    {
        var c = hub.Sandbox.Alipay.Complaints.Complaints[complaintId];
        lock (c)
        {
            return c.Replies.Where(r => r.Role == "MERCHANT").ToList();
        }
    }

    private int WeChatUploads => hub.Sandbox.WeChat.Images.Calls.Count;

    private int AlipayUploads => hub.Sandbox.Alipay.ComplaintImages.Calls.Count;

    [Fact]
    public async Task An_uploaded_file_is_checked_by_its_bytes_stored_once_per_key_and_only_its_merchant_sees_it()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var png = Png();
        var key = "file-" + Guid.NewGuid();
        var up = await UploadAsync(m, png, "照片.PNG", key: key);
        Assert.True(up.Status == HttpStatusCode.Created, up.ToString());
        var fileId = up.Str("id");
        Assert.StartsWith("file_", fileId);
        Assert.Equal("file", up.Str("object"));
        Assert.Equal("dispute_evidence", up.Str("purpose"));
        Assert.Equal("png", up.Str("type"));
        Assert.Equal("照片.PNG", up.Str("filename"));
        Assert.Equal(png.Length, up.Json.GetProperty("size").GetInt64());
        Assert.Equal(Sha256(png), up.Str("sha256"));

        // The same upload again with the same key (a new multipart boundary): the same file, nothing stored twice.
        var again = await UploadAsync(m, png, "照片.PNG", key: key);
        Assert.Equal(up.Body, again.Body);
        // The same key with other bytes is another request: refused.
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await UploadAsync(m, Png(), "照片.PNG", key: key)).Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));
        var stored = await hub.Db.ReadAsync(c => c.ExecuteScalarAsync<byte[]>("SELECT content FROM files WHERE id = @fileId", new { fileId }), default);
        Assert.Equal(png, stored);

        Assert.Equal(fileId, (await m.GetAsync($"/v1/files/{fileId}")).Str("id"));
        var (other, _, _) = await hub.NewMerchantAsync("别的商户");
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/files/{fileId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync("/v1/files/file_1")).Status);

        // Refused, and nothing stored: too large, not an image by its bytes (whatever its name), empty, no purpose, not multipart.
        var cases = new (byte[] Content, string Name, string? Purpose, HttpStatusCode Status, string Param)[]
        {
            (Png(2 * 1024 * 1024 + 1), "big.png", "dispute_evidence", HttpStatusCode.BadRequest, "file"),
            (Image("GIF89a"u8.ToArray(), 500), "fake.png", "dispute_evidence", HttpStatusCode.BadRequest, "file"),
            (Image("%PDF-1.7"u8.ToArray(), 500), "doc.jpg", "dispute_evidence", HttpStatusCode.BadRequest, "file"),
            ([], "empty.png", "dispute_evidence", HttpStatusCode.BadRequest, "file"),
            (Png(), "x.png", "identity_document", HttpStatusCode.BadRequest, "purpose"),
            (Png(), "x.png", null, HttpStatusCode.BadRequest, "purpose"),
            (Png(3 * 1024 * 1024), "huge.png", "dispute_evidence", HttpStatusCode.RequestEntityTooLarge, "request_too_large"),
        };
        foreach (var (content, name, purpose, status, param) in cases)
        {
            // Kestrel closes the connection after a 413; a client still writing may see the close first: sent again.
            var bad = status == HttpStatusCode.RequestEntityTooLarge
                ? await SecurityReviewTests.TooLargeAsync(() => UploadAsync(m, content, name, purpose))
                : await UploadAsync(m, content, name, purpose);
            Assert.True(bad.Status == status, $"{name}: {bad}");
            Assert.Contains(param, bad.Body, StringComparison.Ordinal);
        }

        var json = await m.PostAsync("/v1/files", new { purpose = "dispute_evidence" });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.Status);
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM files WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task An_answer_with_images_at_wechat_pay_uploads_them_and_the_wallet_holds_the_same_bytes_on_the_complaint()
    {
        var (m, _, id, complaintId) = await DisputeAsync("wechatpay");
        var png = Png();
        var jpg = Jpg();
        var bmp = Bmp();
        var files = new List<string>();
        foreach (var (content, name) in new[] { (png, "a.png"), (jpg, "b.jpg"), (bmp, "c.bmp") })
        {
            var up = await UploadAsync(m, content, name);
            Assert.Equal(HttpStatusCode.Created, up.Status);
            files.Add(up.Str("id"));
        }

        var key = "dp-" + Guid.NewGuid();
        var answered = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已补发，见附图", files }, idempotencyKey: key);
        Assert.True(answered.Status == HttpStatusCode.OK, answered.ToString());
        Assert.Equal("under_review", answered.Str("status"));

        var response = Assert.Single(WeChatResponses(complaintId));
        Assert.Equal("已补发，见附图", response.OperateDetails);
        Assert.Equal(3, response.Images.Count);
        var media = response.Images.Select(i => hub.Sandbox.WeChat.Images.Media[i]).ToList();
        Assert.Equal([Sha256(png), Sha256(jpg), Sha256(bmp)], media.Select(x => Convert.ToHexStringLower(SHA256.HashData(x.Content))));
        Assert.Equal([Sha256(png), Sha256(jpg), Sha256(bmp)], media.Select(x => x.Sha256));
        Assert.Equal(["image/png", "image/jpeg", "image/bmp"], media.Select(x => x.ContentType));
        Assert.All(media, x => Assert.Equal(hub.WeChat.MchId, x.MchId));
        Assert.Equal([$"{files[0]}.png", $"{files[1]}.jpg", $"{files[2]}.bmp"], media.Select(x => x.FileName));

        // The hub shows the answer with the wallet's image ids, as the wallet's history holds it.
        var mine = Assert.Single(answered.Json.GetProperty("history").EnumerateArray(), h => h.GetProperty("actor").GetString() == "merchant");
        Assert.Equal(response.Images, mine.GetProperty("images").EnumerateArray().Select(i => i.GetString()!));

        // The same request again is the stored answer: no second upload, no second answer.
        var uploads = WeChatUploads;
        Assert.Equal(answered.Body, (await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已补发，见附图", files }, idempotencyKey: key)).Body);
        Assert.Equal(uploads, WeChatUploads);
        Assert.Single(WeChatResponses(complaintId));
    }

    [Fact]
    public async Task An_answer_with_images_at_alipay_uploads_them_and_the_feedback_names_their_image_ids()
    {
        var (m, _, id, complaintId) = await DisputeAsync("alipay");
        var png = Png();
        var jpg = Jpg();
        var files = new List<string>();
        foreach (var (content, name) in new[] { (png, "a.png"), (jpg, "b.jpeg") })
        {
            var up = await UploadAsync(m, content, name);
            Assert.Equal(HttpStatusCode.Created, up.Status);
            files.Add(up.Str("id"));
        }

        var answered = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "已补发，见附图", files });
        Assert.True(answered.Status == HttpStatusCode.OK, answered.ToString());
        Assert.Equal("MERCHANT_FEEDBACKED", answered.Str("wallet_status"));

        var reply = Assert.Single(AlipayReplies(complaintId));
        Assert.Equal(2, reply.Images.Count);
        var images = reply.Images.Select(i => hub.Sandbox.Alipay.ComplaintImages.Images[i]).ToList();
        Assert.Equal([png, jpg], images.Select(i => i.Content));
        Assert.Equal(["png", "jpg"], images.Select(i => i.ImageType));
        Assert.All(images, i => Assert.Equal(hub.Alipay.AppId, i.AppId));
        var mine = Assert.Single(answered.Json.GetProperty("history").EnumerateArray(), h => h.GetProperty("actor").GetString() == "merchant");
        Assert.Equal(reply.Images, mine.GetProperty("images").EnumerateArray().Select(i => i.GetString()!));
    }

    [Fact]
    public async Task Too_many_images_a_type_the_wallet_does_not_take_and_another_merchants_file_are_refused_before_any_wallet_call()
    {
        var (m, _, wxId, wxComplaint) = await DisputeAsync("wechatpay");
        var (am, _, alipayId, alipayComplaint) = await DisputeAsync("alipay");
        var five = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            five.Add((await UploadAsync(m, Png(), $"p{i}.png")).Str("id"));
        }

        var bmp = (await UploadAsync(am, Bmp(), "scan.bmp")).Str("id");
        var (other, _, _) = await hub.NewMerchantAsync("别的商户");
        var othersFile = (await UploadAsync(other, Png(), "theirs.png")).Str("id");
        var wxUploads = WeChatUploads;
        var alipayUploads = AlipayUploads;

        var tooMany = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", files = five });
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.Status);
        Assert.Contains("files", tooMany.Body, StringComparison.Ordinal);
        var mixed = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", files = five.Take(3), image_ids = new[] { "m1", "m2" } });
        Assert.Equal(HttpStatusCode.BadRequest, mixed.Status);
        var duplicate = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", files = new[] { five[0], five[0] } });
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.Status);
        var notAFile = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", files = new[] { "pay_123" } });
        Assert.Equal(HttpStatusCode.BadRequest, notAFile.Status);

        // Another merchant's file is not found, as if it did not exist.
        var theirs = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", files = new[] { five[0], othersFile } });
        Assert.Equal(HttpStatusCode.NotFound, theirs.Status);
        Assert.Contains("file", theirs.Body, StringComparison.Ordinal);

        // Alipay takes jpg and png only: a BMP is refused here, not sent.
        var bmpAtAlipay = await am.PostAsync($"/v1/disputes/{alipayId}/respond", new { text = "见附图", files = new[] { bmp } });
        Assert.Equal(HttpStatusCode.BadRequest, bmpAtAlipay.Status);
        Assert.Contains("alipay", bmpAtAlipay.Body, StringComparison.Ordinal);

        Assert.Equal(wxUploads, WeChatUploads);
        Assert.Equal(alipayUploads, AlipayUploads);
        Assert.Empty(WeChatResponses(wxComplaint));
        Assert.Empty(AlipayReplies(alipayComplaint));
        Assert.Equal("needs_response", (await m.GetAsync($"/v1/disputes/{wxId}")).Str("status"));
        Assert.Equal("needs_response", (await am.GetAsync($"/v1/disputes/{alipayId}")).Str("status"));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM file_wallet_images WHERE file_id = @f", new { f = five[0] }));
    }

    [Fact]
    public async Task A_wallet_that_did_not_answer_is_asked_again_with_the_same_image_ids_and_an_unanswered_upload_is_simply_repeated()
    {
        var (m, paymentId, id, complaintId) = await DisputeAsync("wechatpay");
        var fileId = (await UploadAsync(m, Png(), "a.png")).Str("id");

        // The upload gets no answer: nothing is answered, 503, and the key stays free.
        hub.Sandbox.WeChat.Faults.Inject("image_upload", SandboxFault.TimeoutBefore, 1);
        var key = "dp-" + Guid.NewGuid();
        var first = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "见附图", files = new[] { fileId } }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.Status);
        Assert.Empty(WeChatResponses(complaintId));

        // The answer itself is taken by the wallet but its reply is lost: 503 again.
        hub.Sandbox.WeChat.Faults.Inject("complaint_response", SandboxFault.TimeoutAfter, 1, match: paymentId);
        var second = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "见附图", files = new[] { fileId } }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.Status);
        Assert.Single(WeChatResponses(complaintId));

        // Sent again with the same key: the wallet gets the same answer with the same media id (not a new upload).
        var third = await m.PostAsync($"/v1/disputes/{id}/respond", new { text = "见附图", files = new[] { fileId } }, idempotencyKey: key);
        Assert.Equal(HttpStatusCode.OK, third.Status);
        var responses = WeChatResponses(complaintId);
        Assert.Equal(2, responses.Count);
        Assert.Equal(responses[0].Images, responses[1].Images);
        Assert.Equal(responses[0].OperateDetails, responses[1].OperateDetails);
        Assert.Single(hub.Sandbox.WeChat.Images.Media.Values, x => x.FileName == $"{fileId}.png");
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM file_wallet_images WHERE file_id = @fileId", new { fileId }));
    }

    [Fact]
    public async Task An_independent_npm_client_uploads_an_image_to_the_sandbox_and_its_signature_is_accepted()
    {
        await E2eModules.EnsureInstalledAsync();
        var png = Png(4_000);
        var psi = E2eModules.WeChatPayClient("wechatpay-images-interop.mjs", hub.Sandbox.BaseUrl, hub.WeChat);
        psi.Environment["WX_IMAGE_B64"] = Convert.ToBase64String(png);
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        var mediaId = r.GetProperty("media_id").GetString()!;
        var media = hub.Sandbox.WeChat.Images.Media[mediaId];
        Assert.Equal(png, media.Content);
        Assert.Equal("evidence.png", media.FileName);
        Assert.Equal(hub.WeChat.MchId, media.MchId);
        Assert.Equal(400, r.GetProperty("bad_sha_status").GetInt32());
        Assert.Equal("PARAM_ERROR", r.GetProperty("bad_sha_code").GetString());
        Assert.Equal(401, r.GetProperty("bad_sign_status").GetInt32());
        Assert.Equal("SIGN_ERROR", r.GetProperty("bad_sign_code").GetString());
    }

    [Fact]
    public async Task Alipays_node_sdk_uploads_an_image_to_the_sandbox_and_a_type_alipay_does_not_take_is_refused()
    {
        await E2eModules.EnsureInstalledAsync();
        var png = Png(3_000);
        var psi = new System.Diagnostics.ProcessStartInfo("node", "alipay-images-interop.mjs") { WorkingDirectory = E2eModules.Dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["TZ"] = "Asia/Shanghai"; // the SDK's timestamp is local time; Alipay reads it as China time
        psi.Environment["ALI_SANDBOX"] = hub.Sandbox.BaseUrl.TrimEnd('/');
        psi.Environment["ALI_APPID"] = hub.Alipay.AppId;
        psi.Environment["ALI_PRIVATE_KEY"] = hub.Alipay.AppPrivateKeyPem;
        psi.Environment["ALI_PUBLIC_KEY"] = hub.Alipay.AlipayPublicKeyPem;
        psi.Environment["ALI_IMAGE_B64"] = Convert.ToBase64String(png);
        var (exitCode, stdout, stderr) = await E2eModules.RunNodeAsync(psi);

        Assert.True(exitCode == 0, stderr);
        var r = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.False(r.TryGetProperty("error", out var error), error.ToString());
        Assert.Equal("10000", r.GetProperty("code").GetString());
        var image = hub.Sandbox.Alipay.ComplaintImages.Images[r.GetProperty("image_id").GetString()!];
        Assert.Equal(png, image.Content);
        Assert.Equal(hub.Alipay.AppId, image.AppId);
        Assert.Equal("40002", r.GetProperty("refused").GetProperty("code").GetString());
        Assert.Equal("isv.invalid-file-extension", r.GetProperty("refused").GetProperty("sub_code").GetString());
    }

    [Fact]
    public async Task The_sandboxes_refuse_bad_images_with_the_wallets_codes_and_an_answer_naming_an_image_they_never_issued()
    {
        var wechat = hub.Service<WeChatPayConnector>();
        var alipay = hub.Service<Hutong.Connectors.Alipay.AlipayConnector>();
        var gif = Image("GIF89a"u8.ToArray(), 300);

        async Task WeChatRefuses(string name, string type, byte[] content)
        {
            var r = await wechat.UploadComplaintImageAsync(name, type, content, default);
            Assert.Equal((WalletCallOutcome.Rejected, "PARAM_ERROR"), (r.Outcome, r.Error?.Code));
        }

        async Task AlipayRefuses(string type, byte[] content, string subCode)
        {
            var r = await alipay.UploadComplaintImageAsync("x." + type, type, content, default);
            Assert.Equal((WalletCallOutcome.Rejected, subCode), (r.Outcome, r.Error?.Code));
        }

        await WeChatRefuses("x.png", "png", gif);                           // not an image it takes, by its bytes
        await WeChatRefuses("x.png", "png", Jpg());                         // the bytes are not what the name says
        await WeChatRefuses("x.gif", "png", Png());                         // the name must end in JPG, BMP or PNG
        await WeChatRefuses("x.png", "png", Png(2 * 1024 * 1024 + 1));      // "不能超过2M"
        await AlipayRefuses("png", gif, "isv.invalid-file-extension");
        await AlipayRefuses("bmp", Bmp(), "isv.invalid-file-extension");   // jpg, jpeg, png only
        await AlipayRefuses("png", Png(5 * 1024 * 1024 + 1), "isv.invalid-file-size"); // "最大为5M"
        Assert.DoesNotContain(hub.Sandbox.WeChat.Images.Media.Values, m => m.FileName is "x.png" or "x.gif");

        // Ids the wallet never issued: the answer is refused there (422 wallet_refused), nothing recorded.
        var (m, _, wxId, wxComplaint) = await DisputeAsync("wechatpay");
        var wx = await m.PostAsync($"/v1/disputes/{wxId}/respond", new { text = "见附图", image_ids = new[] { "never-issued" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wx.Status);
        Assert.Empty(WeChatResponses(wxComplaint));
        var (am, _, alipayId, alipayComplaint) = await DisputeAsync("alipay");
        var ali = await am.PostAsync($"/v1/disputes/{alipayId}/respond", new { text = "见附图", image_ids = new[] { "never-issued" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, ali.Status);
        Assert.Empty(AlipayReplies(alipayComplaint));
    }
}

[Collection("sqlite")]
public sealed class DisputeEvidenceTests_Sqlite(SqliteHub hub) : DisputeEvidenceTests(hub);

[Collection("postgres")]
public sealed class DisputeEvidenceTests_Postgres(PostgresHub hub) : DisputeEvidenceTests(hub);
