"""axe-core, the accessibility checker, run in a page the app shows (a Playwright page).

axe-core comes from npm: package.json pins its version, `npm ci` puts it in node_modules/ (CI's
.ci/run does). `AXE` is None where it is not installed. `check(page)` injects it into the page
and every frame and runs the WCAG 2.1 A and AA rules on the whole document, shadow roots
included; it returns the violations found, each node that a rule of `ALLOWED` lets pass left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .server import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE_FILE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE = AXE_FILE if AXE_FILE.exists() else None
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
BLOCKING = ("critical", "serious")  # the impacts a page may not have

_RUN_JS = """async ([tags, allowed]) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
                                          elementRef: true});
  const excused = (rule, node) => node.element && allowed.some(
    ([id, selector]) => id === rule && node.element.closest && node.element.closest(selector));
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.filter(n => !excused(v.id, n)).map(n => ({
      target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t).join(' | '),
      impact: n.impact, html: n.html.slice(0, 200), summary: n.failureSummary})),
  })).filter(v => v.nodes.length);
}"""


def inject(page: Page) -> None:
    """Load axe-core into the page's main frame and every frame in it (axe checks a frame from inside it)."""
    for frame in page.frames:
        if not frame.is_detached() and not frame.evaluate("typeof window.axe === 'object'"):
            frame.add_script_tag(path=AXE_FILE)


def check(page: Page, allowed: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """Run axe-core's WCAG 2.1 A and AA rules on what `page` shows now; the violations as dicts
    (id, impact, help, helpUrl, nodes: target, impact, html, summary).

    `allowed` holds (rule id, CSS selector) pairs: a node inside an element that the selector matches is
    not reported for that rule (for markup the app does not make; each pair needs its reason).
    """
    inject(page)
    return page.evaluate(_RUN_JS, [list(WCAG21_AA), [list(a) for a in allowed]])


def blocking(violations: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The nodes of `violations` whose impact is critical or serious, as (violation, node) pairs."""
    return [(v, n) for v in violations for n in v["nodes"] if n["impact"] in BLOCKING]


def counts(violations: list[dict[str, Any]]) -> dict[str, int]:
    """{impact: number of nodes} of `violations`."""
    found: dict[str, int] = {}
    for v in violations:
        for n in v["nodes"]:
            found[n["impact"]] = found.get(n["impact"], 0) + 1
    return found


def report(violations: list[dict[str, Any]], targets: int = 3) -> str:
    """The violations as lines a person reads: rule, impact, nodes, help, and the first few targets."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}  {v['helpUrl']}")
        for n in v["nodes"][:targets]:
            lines.append(f"    {n['target']}\n        {n['html']}\n        {' '.join(n['summary'].split())[:300]}")
    return "\n".join(lines)
