"""Output that fits (docs/cli.md): error text cut to a sane length, tables
that fit the terminal's width, colour only on a terminal and never with
NO_COLOR. Tables use `rich` (pinned in requirements.txt); into a pipe or a
file the lines stay plain and whole, for grep. Times read H:MM:SS (fmt_t)."""
import io
import os
import sys

CUT = 200       # the most characters of quoted input an error line carries


def cut(text, limit=CUT, start=0):
    """`text` (quoted from a file) no longer than `limit` characters: cut
    with an ellipsis and the column where it stops ("... (cut at column
    201 of 4194304)"). `start`: the column of text[0] in its line, minus 1."""
    text = str(text)
    if len(text) <= limit:
        return text
    return "%s... (cut at column %d of %d)" % (text[:limit], start + limit + 1,
                                               start + len(text))


def quoted(text, limit=CUT):
    """repr(text), cut as cut() does: 'abc...'... (cut at column 201 of N)."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return "%r... (cut at column %d of %d)" % (text[:limit], limit + 1, len(text))


def fmt_t(ms):
    """A time in milliseconds as H:MM:SS (a trace's t, a board's time); "-"
    for None (not known yet)."""
    if ms is None:
        return "-"
    s = ms // 1000
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def print_line(console, stream, text):
    """One line of text: through the rich console when a live panel is drawn
    on it (the line goes above the panel), else plain onto the stream."""
    if console is not None:
        console.print(text, markup=False, highlight=False)
    else:
        stream.write(text + "\n")
        stream.flush()


def colour_allowed(stream=None):
    """Colour only on a terminal, and never when NO_COLOR is set (any value)."""
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def fitted(stream=None, width=None):
    """Whether a table goes out fitted to a width (a terminal, or --width)."""
    stream = stream or sys.stdout
    return width is not None or (hasattr(stream, "isatty") and stream.isatty())


def terminal_width(stream=None, default=80):
    stream = stream or sys.stdout
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, AttributeError, ValueError):
        return default


def write_fitted_table(header, rows, out=None, width=None, wrap=(), styles=None):
    """header: column names; rows: tuples of text. The table is drawn to fit
    `width` (default: the terminal's): columns not in `wrap` keep their
    text whole, those in `wrap` fold inside their cells. styles: {row index:
    rich style} (e.g. problems in red), used only where colour is allowed."""
    from rich.console import Console
    from rich.table import Table
    out = out or sys.stdout
    if width is None:
        width = terminal_width(out)
    buf = io.StringIO()
    console = Console(file=buf, width=max(40, width), no_color=not colour_allowed(out),
                      force_terminal=colour_allowed(out), highlight=False, emoji=False,
                      soft_wrap=False)
    table = Table(box=None, pad_edge=False, show_edge=False, expand=False,
                  header_style="bold" if colour_allowed(out) else "")
    for name in header:
        if name in wrap:
            table.add_column(name, overflow="fold", ratio=1)
        else:
            table.add_column(name, no_wrap=True, overflow="ellipsis")
    styles = styles or {}
    for i, row in enumerate(rows):
        table.add_row(*[str(c) for c in row], style=styles.get(i))
    console.print(table)
    for line in buf.getvalue().splitlines():      # no padding at the line ends
        out.write(line.rstrip() + "\n")
