"""report.md and report.html from the report's tables and figures: formatting, Markdown,
and one self-contained HTML page with a small stylesheet."""

import base64
import html
import re


def fmt(value):
    """A table cell: whole numbers with thousands separators, others to 4 significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.4g}"


def trial_seconds(value):
    """A trial's seconds: one decimal under 100 s, whole seconds above."""
    if value in ("", None):
        return ""
    seconds = float(value)
    return f"{seconds:,.0f}" if seconds >= 100 else f"{seconds:.1f}"


def duration(seconds):
    """Wall time in words: "42 s", "3 min 5 s", "1 h 20 min"."""
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return "{} min {} s".format(*divmod(seconds, 60))
    return "{} h {} min".format(*divmod(round(seconds / 60), 60))


def score(value):
    return "n/a" if value is None else f"{value:.4f}"


def size(num_bytes):
    return f"{num_bytes / 1e6:,.2f} MB" if num_bytes >= 1e6 else f"{num_bytes / 1e3:.1f} kB"


def table(header, rows):
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in rows]) + "\n"


def markdown(title, sections, figures):
    parts = [f"# {title}\n"]
    parts += [f"## {name}\n\n{table(header, rows)}" for name, header, rows in sections]
    drawn = [f.title for f in figures if f.png]
    parts.append("## Plots\n\nIn report.html: " + "; ".join(drawn) + ".\n")
    parts += [f"{f.title}: {f.caption}\n" for f in figures if not f.png]
    return "\n".join(parts)


STYLE = """
:root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--head:#eef3f8;--accent:#2f6fb0}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
max-width:76em;margin:2em auto;padding:0 1.5em}
h1{font-size:1.5em;margin:0 0 .6em}
h2{font-size:1.15em;margin:2em 0 .5em;padding-bottom:.2em;border-bottom:2px solid var(--line)}
.headline{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0 1.5em}
.headline div{background:var(--head);border-radius:6px;padding:.5em 1em;min-width:8em}
.headline span{display:block;color:var(--muted);font-size:.85em}
.headline b{font-size:1.35em;color:var(--accent)}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0;display:block;overflow-x:auto}
th{background:var(--head);text-align:left;font-weight:600}
td,th{border:1px solid var(--line);padding:.3em .7em}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#f8fafc}
figure{margin:.5em 0 1.5em}figcaption{color:var(--muted);font-size:.9em;margin:0 0 .6em}
img{max-width:100%;height:auto}
p.note{color:var(--muted);font-style:italic}
"""
_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?( ± [\d.]+)?( (s|min|MB|kB))?")


def html_page(title, headline, summary, figures, details):
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{STYLE}</style>", f"<h1>{e(title)}</h1>", "<div class='headline'>"
             + "".join(f"<div><span>{e(label)}</span><b>{e(value)}</b></div>"
                       for label, value in headline) + "</div>"]
    parts += [html_table(name, header, rows) for name, header, rows in summary]
    for figure in figures:
        parts.append(f"<h2>{e(figure.title)}</h2>")
        if figure.png:
            data = base64.b64encode(figure.png).decode()
            parts.append(f"<figure><figcaption>{e(figure.caption)}</figcaption><img alt="
                         f"'{e(figure.title)}' src='data:image/png;base64,{data}'></figure>")
        else:
            parts.append(f"<p class='note'>{e(figure.caption)}</p>")
    parts += [html_table(name, header, rows) for name, header, rows in details]
    return "\n".join(parts) + "\n"


def html_table(name, header, rows):
    e = html.escape

    def cell(value):
        text = str(value)
        # numbers right-aligned in columns of figures, not in a two-column list of settings
        kind = " class='num'" if len(header) > 2 and _NUMBER.fullmatch(text) else ""
        return f"<td{kind}>{e(text)}</td>"

    return (f"<h2>{e(name)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header)
            + "</tr>" + "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
            + "</table>")
