"""Platform text in tooltips, shown as the plain text it is.

Qt shows a tooltip as rich text whenever its text looks like HTML (Qt::mightBeRichText): a
comment or an error message that starts with `<b>` or holds `<img src=…>` would be rendered,
or load an image, instead of being read. Labels and list rows set PlainText explicitly; a
tooltip has no such switch, so its text is escaped into an HTML document of its own.
"""
from __future__ import annotations

import html


def plain_tooltip(text: str | None) -> str:
    """A tooltip that shows `text` exactly, line breaks included ("" stays "": no tooltip)."""
    if not text:
        return ""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"
