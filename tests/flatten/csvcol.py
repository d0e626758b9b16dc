#!/usr/bin/env python3
"""Read columns of bbingest's CSV output (NULL is an empty unquoted field,
"" an empty string).  Used by the tests to read what bbingest wrote; the
counting and summing happen elsewhere."""
import sys

def fields(line):
    out, i, n = [], 0, len(line)
    while True:
        if i < n and line[i] == '"':
            i += 1
            buf = []
            while True:
                j = line.index('"', i)
                buf.append(line[i:j])
                if j + 1 < n and line[j + 1] == '"':
                    buf.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            out.append(''.join(buf))
        else:
            j = line.find(',', i)
            j = n if j < 0 else j
            out.append(None if j == i else line[i:j])
            i = j
        if i >= n:
            return out
        i += 1  # the comma
        if i == n:
            out.append(None)
            return out

def records(f):
    pending = ''
    for line in f:
        pending += line
        if pending.count('"') % 2:
            continue  # a quoted field spans lines
        yield fields(pending.rstrip('\n'))
        pending = ''
    if pending:
        sys.exit('csvcol: unterminated quoted field')

def column(path, col):
    with open(path, newline='', encoding='utf-8') as f:
        it = records(f)
        header = next(it)
        k = header.index(col)
        for r in it:
            if len(r) != len(header):
                sys.exit('csvcol: %s: a row has %d fields, the header %d' % (path, len(r), len(header)))
            if r[k] is not None:
                yield r[k]

# csvcol.py FILE.csv COLUMN            the column's non-NULL values
# csvcol.py DIR NAME=TABLE.COLUMN ...  "NAME v1 v2 ..." per argument
if len(sys.argv) == 3 and sys.argv[1].endswith('.csv'):
    for v in column(sys.argv[1], sys.argv[2]):
        print(v)
else:
    for arg in sys.argv[2:]:
        name, spec = arg.split('=', 1)
        table, col = spec.split('.', 1)
        print(name, ' '.join(column('%s/%s.csv' % (sys.argv[1], table), col)))
