"""Server-rendered SVG charts (pygal), safe under a CSP without inline scripts.

pygal always writes a `<script>` with its tooltip configuration into the SVG, even with `js=[]`;
the tree is rendered and every script element removed before the SVG goes into a page, so the
charts need no script at all (tooltips are the table beside each chart). The script-only tooltip
overlay goes too (its `style` attribute is the chart's only one), and the chart's own `<style>`
element is allowed by its hash (`style_sources`): the console's policy allows no other inline style."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygal


@cache
def _style():
    """pygal is imported when the first chart is drawn: it is not needed to start the server."""
    from pygal.style import Style

    return Style(background="#ffffff", plot_background="#ffffff", foreground="#1d2430", foreground_strong="#1d2430",
                 foreground_subtle="#5d6878", colors=("#1f5fbf", "#17753b", "#b46b00", "#8e3aa8", "#b42318", "#2a8a8a"),
                 font_family="system-ui, sans-serif", label_font_size=13, major_label_font_size=13, legend_font_size=13,
                 title_font_size=15, value_font_size=12)


def _config(**extra) -> dict:
    return {"disable_xml_declaration": True, "js": [], "style": _style(), "width": 720, "height": 320,
            "show_legend": True, "legend_at_bottom": True, "print_values": False, "margin": 12, **extra}


def to_svg(chart: pygal.graph.graph.Graph, title: str) -> str:
    from lxml import etree

    tree = chart.render_tree()
    for script in [el for el in tree.iter() if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "script"]:
        script.getparent().remove(script)
    for overlay in [el for el in tree.iter() if "tooltip-overlay" in (el.get("class") or "").split()]:
        overlay.getparent().remove(overlay)
    tree.set("role", "img")
    tree.set("aria-label", title)
    tree.attrib.pop("onload", None)
    return etree.tostring(tree, encoding="unicode")


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *,
         horizontal: bool = False, value_suffix: str = "") -> str:
    import pygal

    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(**_config(title=title, x_label_rotation=0 if horizontal else 30, truncate_label=40))
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    if value_suffix:
        chart.value_formatter = lambda v: f"{v:,.2f} {value_suffix}"
    return to_svg(chart, title)


_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def style_sources(svgs: Iterable[str]) -> list[str]:
    """The CSP sources (`'sha256-...'`) allowing exactly the charts' own `<style>` elements. The
    browser hashes the element's text, in which an SVG's `&gt;` (XML-escaped CSS) reads `>`."""
    return sorted({"'sha256-" + base64.b64encode(hashlib.sha256(html.unescape(css).encode()).digest()).decode() + "'"
                   for svg in svgs for css in _STYLE_ELEMENT.findall(svg)})
