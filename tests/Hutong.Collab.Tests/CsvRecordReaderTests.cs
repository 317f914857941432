using System.Text;
using Hutong.Collab.Data;

namespace Hutong.Collab.Tests;

/// <summary>The streaming RFC 4180 reader (quotes, CRLF, BOM) and the exact value and time parsing of data set cells.</summary>
public class CsvRecordReaderTests
{
    private static async Task<List<List<string>>> ReadAllAsync(string text, int bufferChars = 64 * 1024, int maxFieldChars = 4096)
    {
        var reader = new CsvRecordReader(new StringReader(text), maxFieldChars, bufferChars: bufferChars);
        var records = new List<List<string>>();
        var fields = new List<string>();
        while (await reader.ReadAsync(fields))
        {
            records.Add([.. fields]);
        }

        return records;
    }

    public static TheoryData<int> Buffers() => [1, 2, 3, 7, 64 * 1024]; // a 1-char buffer splits every CRLF and "" across reads

    [Theory]
    [MemberData(nameof(Buffers))]
    public async Task Quoted_fields_hold_commas_line_breaks_and_doubled_quotes(int buffer)
    {
        var text = "id,note\r\n\"a,1\",\"say \"\"hi\"\"\"\r\n\"b\r\nc\",\"\"\r\nd,\"x\ny\"\r\n";
        var records = await ReadAllAsync(text, buffer);
        Assert.Equal(4, records.Count);
        Assert.Equal(["id", "note"], records[0]);
        Assert.Equal(["a,1", "say \"hi\""], records[1]);
        Assert.Equal(["b\r\nc", ""], records[2]);
        Assert.Equal(["d", "x\ny"], records[3]);
    }

    [Theory]
    [MemberData(nameof(Buffers))]
    public async Task CRLF_LF_and_CR_end_records_a_last_record_needs_no_line_break_and_empty_lines_are_skipped(int buffer)
    {
        var records = await ReadAllAsync("a,b\r\n1,2\n3,4\r5,6\r\n\r\n\n7,\r\n,8", buffer);
        Assert.Equal([["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"], ["7", ""], ["", "8"]], records);
    }

    [Theory]
    [MemberData(nameof(Buffers))]
    public async Task A_byte_order_mark_at_the_start_is_skipped(int buffer)
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("phone,value\r\n138,1\r\n")).ToArray();
        using var text = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(false, true), detectEncodingFromByteOrderMarks: false);
        var reader = new CsvRecordReader(text, bufferChars: buffer);
        var fields = new List<string>();
        Assert.True(await reader.ReadAsync(fields));
        Assert.Equal(["phone", "value"], fields); // "phone", not "\uFEFFphone": the id column is found
        Assert.True(await reader.ReadAsync(fields));
        Assert.Equal(2, reader.Record);
        Assert.False(await reader.ReadAsync(fields));
    }

    [Theory]
    [InlineData("a,b\r\n1,x\"y\r\n", "stray_quote", 2)]
    [InlineData("a,b\r\n1,\"xy\"z\r\n", "text_after_quote", 2)]
    [InlineData("a,b\r\n1,2\r\n3,\"open\r\n", "unterminated_quote", 3)]
    public async Task Malformed_quoting_is_refused_with_the_row_number(string text, string code, long row)
    {
        var e = await Assert.ThrowsAsync<CsvFormatException>(() => ReadAllAsync(text));
        Assert.Equal(code, e.Code);
        Assert.Equal(row, e.Record);
        Assert.Contains($"row {row}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_field_longer_than_the_limit_is_refused_so_memory_stays_bounded()
    {
        var e = await Assert.ThrowsAsync<CsvFormatException>(() => ReadAllAsync("a\r\n" + new string('x', 100) + "\r\n", maxFieldChars: 50));
        Assert.Equal("field_too_long", e.Code);
        Assert.Equal(2, e.Record);
    }

    [Theory]
    [InlineData("1999", ValueFormat.Minor, 1999)]
    [InlineData(" +0 ", ValueFormat.Minor, 0)]
    [InlineData("19.99", ValueFormat.Amount, 1999)]
    [InlineData("0.1", ValueFormat.Amount, 10)]
    [InlineData("0.30", ValueFormat.Amount, 30)]
    [InlineData("12", ValueFormat.Amount, 1200)]
    [InlineData("1000000000", ValueFormat.Amount, 100_000_000_000)]
    public void Values_convert_exactly_to_minor_units(string cell, ValueFormat format, long fen) =>
        Assert.Equal(fen, CollabValues.ParseValue(cell, format, 2));

    [Theory]
    [InlineData("19.99", ValueFormat.Minor)] // a decimal where whole fen are expected
    [InlineData("19.999", ValueFormat.Amount)] // more decimals than the currency has: refused, not rounded
    [InlineData("-5", ValueFormat.Minor)]
    [InlineData("1e3", ValueFormat.Amount)]
    [InlineData(".5", ValueFormat.Amount)]
    [InlineData("12.", ValueFormat.Amount)]
    [InlineData("1.2.3", ValueFormat.Amount)]
    [InlineData("", ValueFormat.Minor)]
    [InlineData("100000000001", ValueFormat.Minor)] // above CollabValues.MaxValue
    [InlineData("99999999999999999999999", ValueFormat.Minor)] // would overflow a long
    public void Bad_values_are_refused(string cell, ValueFormat format) => Assert.Null(CollabValues.ParseValue(cell, format, 2));

    [Fact]
    public void A_currency_without_minor_units_takes_no_decimals()
    {
        Assert.Equal(500, CollabValues.ParseValue("500", ValueFormat.Amount, 0));
        Assert.Null(CollabValues.ParseValue("500.5", ValueFormat.Amount, 0));
    }

    [Theory]
    [InlineData("1700000000", 1_700_000_000)]
    [InlineData("2026-11-11T20:00:00+08:00", 1_794_398_400)]
    [InlineData("2026-11-11T12:00:00Z", 1_794_398_400)]
    [InlineData("2026-11-11", 1_794_326_400)] // midnight China time
    public void Times_are_unix_seconds_or_ISO_8601_with_an_offset(string cell, long seconds) => Assert.Equal(seconds, CollabValues.ParseTime(cell));

    [Theory]
    [InlineData("2026-11-11T20:00:00")] // no offset: ambiguous
    [InlineData("1700000000000")] // milliseconds
    [InlineData("11/11/2026")]
    [InlineData("soon")]
    public void Ambiguous_or_unreadable_times_are_refused(string cell) => Assert.Null(CollabValues.ParseTime(cell));
}
