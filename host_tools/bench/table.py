"""The one table printer of `make bench`: a section is (title, rows), a row is
(what, value, unit, target or note)."""


def print_table(title, rows, seconds):
    print()
    print("## %s  (%.0f s)" % (title, seconds))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for what, value, unit, note in rows:
        print("  %-*s  %*s %-5s  %s" % (w0, what, w1, value, unit, note))
