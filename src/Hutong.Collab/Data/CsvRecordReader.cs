using System.Text;

namespace Hutong.Collab.Data;

/// <summary>A CSV input that is not well-formed, at a record number (1 = the header, as a spreadsheet numbers rows).</summary>
public sealed class CsvFormatException(long record, string code, string message) : Exception(message)
{
    public long Record { get; } = record;

    public string Code { get; } = code;
}

/// <summary>
/// A streaming RFC 4180 reader: one record at a time from a <see cref="TextReader"/>, never the whole input in memory.
/// Fields are separated by commas and records by CRLF (LF and a lone CR are accepted too); a field in double quotes may
/// hold commas, line breaks and doubled quotes (<c>""</c> is one quote). A byte order mark (U+FEFF) at the very start is
/// skipped; an empty line is skipped. A quote inside an unquoted field, text after a closing quote, an unterminated quote
/// and a field or record over the limits are refused with the record's number. Memory is bounded by
/// <see cref="MaxFieldChars"/> × <see cref="MaxFields"/> plus the read buffer, whatever the input's size.
/// </summary>
public sealed class CsvRecordReader
{
    public const int DefaultMaxFieldChars = 4096;
    public const int DefaultMaxFields = 256;

    private readonly TextReader _reader;
    private readonly char[] _buffer;
    private readonly StringBuilder _field = new();
    private int _pos;
    private int _len;
    private bool _eof;
    private bool _started;

    public CsvRecordReader(TextReader reader, int maxFieldChars = DefaultMaxFieldChars, int maxFields = DefaultMaxFields, int bufferChars = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _buffer = new char[bufferChars];
        MaxFieldChars = maxFieldChars;
        MaxFields = maxFields;
    }

    public int MaxFieldChars { get; }

    public int MaxFields { get; }

    /// <summary>The number of the record last read (1 = the first, normally the header); 0 before any.</summary>
    public long Record { get; private set; }

    /// <summary>
    /// Reads the next record's fields into <paramref name="fields"/> (cleared first). False at the end of the input.
    /// </summary>
    public async ValueTask<bool> ReadAsync(List<string> fields, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(fields);
        fields.Clear();
        while (true)
        {
            if (!await EnsureAsync(ct))
            {
                return false;
            }

            if (!_started)
            {
                _started = true;
                if (_buffer[_pos] == '\uFEFF')
                {
                    _pos++;
                    continue;
                }
            }

            // An empty line (CRLF, LF or CR alone) is no record.
            var c = _buffer[_pos];
            if (c == '\n')
            {
                _pos++;
                continue;
            }

            if (c == '\r')
            {
                _pos++;
                if (await EnsureAsync(ct) && _buffer[_pos] == '\n')
                {
                    _pos++;
                }

                continue;
            }

            break;
        }

        Record++;
        while (true)
        {
            var more = await ReadFieldAsync(ct);
            if (fields.Count >= MaxFields)
            {
                throw new CsvFormatException(Record, "too_many_fields", $"row {Record} has more than {MaxFields} fields.");
            }

            fields.Add(_field.ToString());
            if (!more)
            {
                return true;
            }
        }
    }

    /// <summary>Reads one field into <see cref="_field"/>; true when a comma follows (another field of this record).</summary>
    private async ValueTask<bool> ReadFieldAsync(CancellationToken ct)
    {
        _field.Clear();
        if (!await EnsureAsync(ct))
        {
            return false;
        }

        if (_buffer[_pos] == '"')
        {
            _pos++;
            while (true)
            {
                if (!await EnsureAsync(ct))
                {
                    throw new CsvFormatException(Record, "unterminated_quote", $"row {Record}: a quoted field is not closed before the end of the file.");
                }

                var c = _buffer[_pos++];
                if (c == '"')
                {
                    if (await EnsureAsync(ct) && _buffer[_pos] == '"')
                    {
                        _pos++;
                        Append('"');
                        continue;
                    }

                    // The closing quote: a comma, a line break or the end must follow.
                    return await EndOfFieldAsync(ct);
                }

                Append(c);
            }
        }

        while (true)
        {
            if (!await EnsureAsync(ct))
            {
                return false;
            }

            var c = _buffer[_pos];
            if (c is ',' or '\r' or '\n')
            {
                return await EndOfFieldAsync(ct);
            }

            if (c == '"')
            {
                throw new CsvFormatException(Record, "stray_quote", $"row {Record}: a double quote inside an unquoted field (RFC 4180: quote the whole field and double the quote).");
            }

            _pos++;
            Append(c);
        }
    }

    private async ValueTask<bool> EndOfFieldAsync(CancellationToken ct)
    {
        if (!await EnsureAsync(ct))
        {
            return false;
        }

        var c = _buffer[_pos];
        if (c == ',')
        {
            _pos++;
            return true;
        }

        if (c == '\n')
        {
            _pos++;
            return false;
        }

        if (c == '\r')
        {
            _pos++;
            if (await EnsureAsync(ct) && _buffer[_pos] == '\n')
            {
                _pos++;
            }

            return false;
        }

        // Only after a closing quote can anything else be here (an unquoted field stops at , CR LF only).
        throw new CsvFormatException(Record, "text_after_quote", $"row {Record}: text after a closing quote (a quoted field must end at a comma or a line break).");
    }

    private void Append(char c)
    {
        if (_field.Length >= MaxFieldChars)
        {
            throw new CsvFormatException(Record, "field_too_long", $"row {Record} has a field longer than {MaxFieldChars} characters.");
        }

        _field.Append(c);
    }

    private async ValueTask<bool> EnsureAsync(CancellationToken ct)
    {
        if (_pos < _len)
        {
            return true;
        }

        if (_eof)
        {
            return false;
        }

        _len = await _reader.ReadAsync(_buffer.AsMemory(), ct);
        _pos = 0;
        if (_len == 0)
        {
            _eof = true;
            return false;
        }

        return true;
    }
}
