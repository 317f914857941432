using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.UnionPay;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hutong.Connectors.Tests.UnionPay;

/// <summary>
/// Real UnionPay messages from outside the project (Samples/SOURCES.md): a queryTrans answer signed by UnionPay's test
/// environment, raw k=v with CRLFs in signPubKeyCert and '+' and '/' in signature; and a production backUrl notice of
/// txnType=79 (token opened), which carries no queryId and a {…} value holding '&amp;' and '='.
/// </summary>
public class UnionPayAnswerVectorTests
{
    private static string QueryAnswer => Samples.Text("UnionPay", "queryTrans-answer.txt");

    private static string Notice79 => Samples.Text("UnionPay", "backUrl-txnType79.form.txt");

    [Fact]
    public void A_real_raw_answer_parses_verbatim_and_verifies_with_UnionPays_certificate()
    {
        var f = UnionPaySignature.ParseAnswer(QueryAnswer);

        Assert.Contains('+', f["signature"]);
        Assert.Contains("\r\n", f["signPubKeyCert"], StringComparison.Ordinal);
        Assert.Equal("512209110416475616528", f["queryId"]);
        Assert.True(VerifiesWithItsOwnCertificate(f));
    }

    /// <summary>UnionPay signs every answer with the certificate it carries in signPubKeyCert.</summary>
    private static bool VerifiesWithItsOwnCertificate(IReadOnlyDictionary<string, string> f)
    {
        using var cert = X509Certificate2.CreateFromPem(f["signPubKeyCert"]);
        using var key = cert.GetRSAPublicKey()!;
        return UnionPaySignature.Verify(key, f, f["signature"]);
    }

    [Fact]
    public async Task The_connector_reads_a_real_query_answer_as_paid_not_unknown()
    {
        var cert = UnionPaySignature.ParseAnswer(QueryAnswer)["signPubKeyCert"];
        using var merchantKey = RSA.Create(2048);
        using var http = new HttpClient(new Canned(QueryAnswer));
        using var connector = new UnionPayConnector(http, new UnionPayOptions
        {
            GatewayUrl = "https://gateway.test.95516.com", MerId = "777290058167151", CertId = "69903319369",
            SigningPrivateKeyPem = merchantKey.ExportPkcs8PrivateKeyPem(), UnionPaySigningCertPem = cert,
        }, NullLogger<UnionPayConnector>.Instance);

        var result = await connector.QueryAsync("019a0000000070008000000000000001", default);

        Assert.Equal(WalletCallOutcome.Ok, result.Outcome);
        Assert.Equal(WalletStatus.Succeeded, result.Transaction!.Status);
        Assert.Equal("512209110416475616528", result.Transaction.TransactionId);
        Assert.Equal(1, result.Transaction.AmountMinor);
    }

    [Fact]
    public void Braced_values_keep_their_ampersands_and_equals_signs()
    {
        // The txnType=79 notice's own fields, written raw the way a synchronous answer carries them.
        var form = UnionPaySignature.ParseForm(Notice79);
        var raw = string.Join('&', form.Select(kv => $"{kv.Key}={kv.Value}"));

        var f = UnionPaySignature.ParseAnswer(raw);

        Assert.Equal(form.Count, f.Count);
        Assert.Equal("{token=6235240000760877254&trId=62000000606&tokenType=01&tokenBegin=20200721202459&tokenEnd=20250720202459&tokenLevel=10}", f["tokenPayData"]);
        Assert.True(VerifiesWithItsOwnCertificate(f));
    }

    [Fact]
    public async Task A_verified_notice_of_a_type_the_hub_does_not_handle_is_acknowledged_not_failed()
    {
        var form = UnionPaySignature.ParseForm(Notice79);
        using var merchantKey = RSA.Create(2048);
        using var http = new HttpClient(new Canned(string.Empty));
        using var connector = new UnionPayConnector(http, new UnionPayOptions
        {
            MerId = "898450155411621", CertId = "1", SigningPrivateKeyPem = merchantKey.ExportPkcs8PrivateKeyPem(),
            UnionPaySigningCertPem = form["signPubKeyCert"],
        }, NullLogger<UnionPayConnector>.Instance);

        var result = await connector.VerifyNotificationAsync(new Dictionary<string, string>(), Notice79, default);

        Assert.True(result.Verified, result.RejectReason);
        Assert.Null(result.Transaction);
        Assert.Null(result.Refund);
        Assert.False(string.IsNullOrEmpty(result.NotificationId));

        var forged = Notice79.Replace("activateStatus=1", "activateStatus=0", StringComparison.Ordinal);
        Assert.False((await connector.VerifyNotificationAsync(new Dictionary<string, string>(), forged, default)).Verified);
    }

    private sealed class Canned(string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, System.Text.Encoding.UTF8, "text/plain") });
    }
}
