using Hutong.Collab.Vfl.Data;

namespace Hutong.Collab.Vfl.Tests;

public class LoaderTests
{
    private const string Guest = """
        user_no;bought;age;spend
        u1;1;30;100
        u2;0;;250
        u3;1;NA;?
        u2;1;40;10
        ;0;1;1
        u4;yes;1;1
        u5;0;abc;1
        u6;0;50;400
        u7;1;20
        """;

    private const string Host = """
        uid;clicks;dwell
        u1;3;0.5
        u3;NaN;1.5
        u6;1;
        u8;9;9
        """;

    [Fact]
    public void Column_names_come_from_options_and_missing_values_are_imputed_with_the_column_mean_and_counted()
    {
        var g = PartyTableLoader.Load(new StringReader(Guest), new TableOptions("user_no", "bought", ';'));

        Assert.Equal(["u1", "u2", "u3", "u6"], g.Ids);
        Assert.Equal(["age", "spend"], g.FeatureNames);
        Assert.Equal([1, 0, 1, 0], g.Labels!);
        Assert.Equal(9, g.Report.RowsRead);
        Assert.Equal(4, g.Report.RowsKept);
        Assert.Collection(g.Report.Skipped,
            s => Assert.Contains("repeated id", s, StringComparison.Ordinal),
            s => Assert.Contains("empty id", s, StringComparison.Ordinal),
            s => Assert.Contains("label 'yes'", s, StringComparison.Ordinal),
            s => Assert.Contains("'age' is not a number", s, StringComparison.Ordinal),
            s => Assert.Contains("3 fields", s, StringComparison.Ordinal));
        // age: 30 and 50 present → mean 40 for u2 and u3; spend: 100, 250, 400 → 250 for u3.
        Assert.Equal([new ImputedColumn("age", 2, 40), new ImputedColumn("spend", 1, 250)], g.Report.Imputed);
        Assert.Equal([30.0, 40, 40, 50], g.Columns[0]);
        Assert.Equal([100.0, 250, 250, 400], g.Columns[1]);
        Assert.Contains("3 missing values imputed", g.Report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Rows_on_one_side_only_are_counted_and_skipped_at_alignment()
    {
        var g = PartyTableLoader.Load(new StringReader(Guest), new TableOptions("user_no", "bought", ';'));
        var h = PartyTableLoader.Load(new StringReader(Host), new TableOptions("uid", null, ';'));
        var ids = PartyTableLoader.Intersection(g, h);

        Assert.Equal(["u1", "u3", "u6"], ids);
        var ga = g.Align(ids);
        var ha = h.Align(ids);
        Assert.Equal(1, ga.SkippedNotInIntersection); // u2
        Assert.Equal(1, ha.SkippedNotInIntersection); // u8
        Assert.Equal([1, 1, 0], ga.Labels!);
        Assert.Equal(3.0, ha.Columns[0][0]);
        Assert.Equal(13.0 / 3, ha.Columns[0][1], 12); // clicks: u3's NaN imputed with the mean of 3, 1 and 9
        Assert.Equal(1.0, ha.Columns[0][2]);
    }

    [Fact]
    public void A_missing_id_or_label_column_or_an_empty_file_is_a_clear_error()
    {
        Assert.Equal("missing_column", Assert.Throws<VflProtocolException>(() => PartyTableLoader.Load(new StringReader(Guest), new TableOptions("id", "bought", ';'))).Code);
        Assert.Equal("missing_column", Assert.Throws<VflProtocolException>(() => PartyTableLoader.Load(new StringReader(Guest), new TableOptions("user_no", "label", ';'))).Code);
        Assert.Equal("empty_file", Assert.Throws<VflProtocolException>(() => PartyTableLoader.Load(new StringReader(""), new TableOptions())).Code);
        var g = PartyTableLoader.Load(new StringReader(Guest), new TableOptions("user_no", "bought", ';'));
        Assert.Equal("not_in_table", Assert.Throws<VflProtocolException>(() => g.Align(["u1", "zz"])).Code);
    }
}
