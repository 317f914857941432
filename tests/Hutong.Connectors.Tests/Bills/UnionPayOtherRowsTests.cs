using System.IO.Compression;
using Hutong.Connectors.Abstractions;
using Hutong.Connectors.UnionPay;

namespace Hutong.Connectors.Tests.Bills;

/// <summary>
/// A UnionPay settlement day can hold rows the hub does not reconcile: ZM rows of other txnTypes (a 消费撤销 is 31) and a
/// ZME file of 差错/adjustment entries. They are read and kept for review, never a reason to refuse the whole bill.
/// </summary>
public class UnionPayOtherRowsTests
{
    private const string ZmName = "INN15090588ZM_802310048993424";
    private const string ZmeName = "INN15090588ZME_802310048993424";

    private static byte[] Entry(string name)
    {
        using var archive = new ZipArchive(new MemoryStream(Samples.Bytes("UnionPay", "802310048993424_20150905.zip")), ZipArchiveMode.Read);
        using var s = archive.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The kit's first ZM line made into a 消费撤销 (txnType 31) of that payment.</summary>
    private static byte[] CancelRow()
    {
        var row = Entry(ZmName)[..609].ToArray();
        void Put(int field, string value)
        {
            var offset = UnionPayBill.ZmWidths.Take(field).Sum() + field;
            System.Text.Encoding.ASCII.GetBytes(value.PadRight(UnionPayBill.ZmWidths[field])).CopyTo(row, offset);
        }

        Put(9, "201509061300000000009");
        Put(11, "C10078087");
        Put(15, "C000000002861");
        Put(19, "31");
        Put(20, "00");
        Put(26, "201509061122031906248");
        return row;
    }

    [Fact]
    public void A_row_of_another_txnType_is_kept_as_an_Other_line_beside_the_payments()
    {
        var lines = UnionPayBill.Parse(ZmName, [.. Entry(ZmName), .. CancelRow()]);

        Assert.Equal(8, lines.Count(l => l.Kind == BillLineKind.Payment));
        var other = Assert.Single(lines, l => l.Kind == BillLineKind.Other);
        Assert.Equal(("C10078087", "201509061300000000009", 476_800L, "31"), (other.OutTradeNo, other.TransactionId, other.AmountMinor, other.Status));
        Assert.Contains("消费撤销", other.Detail, StringComparison.Ordinal);
        Assert.Contains("origQryId 201509061122031906248", other.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ZME_sample_reads_as_an_Adjustment_with_its_code_trace_amount_and_time_and_without_the_card_number()
    {
        var line = Assert.Single(UnionPayBill.ParseZme(ZmeName, Samples.Bytes("UnionPay", ZmeName)));

        Assert.Equal((BillLineKind.Adjustment, "E22", "190624", 476_800L), (line.Kind, line.Status, line.TransactionId, line.AmountMinor));
        Assert.Equal(new DateTimeOffset(2015, 9, 6, 11, 22, 3, TimeSpan.FromHours(8)), line.At);
        Assert.DoesNotContain("622609", line.Detail, StringComparison.Ordinal); // the (masked) card number stays out of reports
        Assert.Throws<BillFormatException>(() => UnionPayBill.ParseZme(ZmeName, Samples.Bytes("UnionPay", ZmeName)[1..]));
        Assert.Throws<BillFormatException>(() => UnionPayBill.ParseZme(ZmName, Samples.Bytes("UnionPay", ZmeName)));
    }

    [Fact]
    public void The_file_content_carries_ZM_and_ZME_rows_together()
    {
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var zm = archive.CreateEntry(ZmName).Open())
            {
                zm.Write([.. Entry(ZmName), .. CancelRow()]);
            }

            using var zme = archive.CreateEntry(ZmeName).Open();
            zme.Write(Samples.Bytes("UnionPay", ZmeName));
        }

        var lines = UnionPayBill.ParseFileContent(Convert.ToBase64String(zip.ToArray()));

        Assert.Equal((8, 1, 1), (lines.Count(l => l.Kind == BillLineKind.Payment), lines.Count(l => l.Kind == BillLineKind.Other), lines.Count(l => l.Kind == BillLineKind.Adjustment)));
    }
}
