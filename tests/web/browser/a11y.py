"""Accessibility checks over a live page: axe-core rules plus a real keyboard walk.

* :func:`axe_violations` runs axe-core (the copy bundled in the PyPI package
  ``axe-playwright-python``; nothing is fetched) for WCAG 2.0/2.1 levels A and AA, which covers
  labelled controls, accessible names, ``lang``, colour contrast computed from the rendered
  styles, and a few structure rules (heading order, one ``main`` landmark, a skip link target).
* :func:`keyboard_walk` presses Tab through the page like a keyboard user and records where the
  focus lands; :func:`keyboard_problems` turns that into readable findings: controls the focus
  never reaches, focus without a visible indicator, and a first Tab stop that is not a skip link.
* :func:`horizontal_overflow` measures how far the page is wider than its viewport.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from playwright.sync_api import Page

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
STRUCTURE_RULES = ("heading-order", "landmark-one-main", "page-has-heading-one", "skip-link")

_AXE_SCRIPT: str | None = None


def axe_script() -> str:
    """axe.min.js as shipped inside the ``axe-playwright-python`` package."""
    global _AXE_SCRIPT
    if _AXE_SCRIPT is None:
        _AXE_SCRIPT = (
            resources.files("axe_playwright_python").joinpath("axe.min.js").read_text("utf-8")
        )
    return _AXE_SCRIPT


@dataclass(frozen=True)
class Violation:
    """One failed axe rule with the elements that fail it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summary: str
    wcag: bool
    """The rule belongs to WCAG 2.0/2.1 level A or AA (else: best practice)."""

    def __str__(self) -> str:
        where = ", ".join(self.targets[:5]) + (" …" if len(self.targets) > 5 else "")
        return f"{self.rule} ({self.impact}): {self.help} at {where}\n    {self.summary}"


def _run_axe(page: Page, run_only: dict[str, Any]) -> list[Violation]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_script())
    result = page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": run_only, "resultTypes": ["violations"]},
    )
    violations = []
    for item in cast(list[dict[str, Any]], result["violations"]):
        nodes = cast(list[dict[str, Any]], item["nodes"])
        violations.append(
            Violation(
                rule=str(item["id"]),
                impact=str(item.get("impact") or "?"),
                help=str(item["help"]),
                targets=tuple(" ".join(map(str, node["target"])) for node in nodes),
                summary=str(nodes[0].get("failureSummary", "")).replace("\n", " ") if nodes else "",
                wcag=bool(set(cast(list[str], item.get("tags", []))) & set(WCAG_TAGS)),
            )
        )
    return violations


def axe_violations(page: Page) -> list[Violation]:
    """WCAG 2.x A/AA violations plus the structure rules in :data:`STRUCTURE_RULES` (one run:
    the best-practice rules run too, and only the structure rules among them are kept)."""
    found = _run_axe(page, {"type": "tag", "values": [*WCAG_TAGS, "best-practice"]})
    return [violation for violation in found if violation.wcag or violation.rule in STRUCTURE_RULES]


# --- keyboard -----------------------------------------------------------------------------

# Marks every element a keyboard user should be able to reach with a data attribute, so
# that the walk can tell them apart; returns their descriptions.
_MARK_TABBABLE = """
() => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
  const items = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.matches(':disabled') || el.getAttribute('tabindex') === '-1') continue;
    if (el.tagName === 'INPUT' && el.type === 'hidden') continue;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const hidden = style.visibility === 'hidden' || style.display === 'none'
      || (rect.width === 0 && rect.height === 0 && !el.matches('a[href^="#"]'));
    if (hidden || el.closest('[inert], [hidden], [aria-hidden="true"]')) continue;
    // Of a group of radio buttons only one is a tab stop.
    if (el.type === 'radio' && el.name) {
      const group = `radio:${el.form ? el.form.id || 'form' : 'doc'}:${el.name}`;
      if (items.some(item => item.group === group)) continue;
      el.dataset.a11yGroup = group;
    }
    el.dataset.a11yId = String(items.length);
    items.push({id: items.length, group: el.dataset.a11yGroup || null, describe: describe(el)});
  }
  return items;
  function describe(el) {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${text}"`;
  }
}
"""

# Records every focus change (what got focus, and whether it shows a focus indicator then).
_RECORD_FOCUS = """
() => {
  window.__a11yFocus = [];
  document.addEventListener('focusin', event => {
    const el = event.target;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow && style.boxShadow !== 'none';
    window.__a11yFocus.push({
      id: el.dataset.a11yId === undefined ? null : Number(el.dataset.a11yId),
      tag: el.tagName.toLowerCase(),
      href: el.getAttribute('href'),
      visibleFocus: Boolean(outline || shadow),
    });
  }, true);
  document.activeElement?.blur();
  window.scrollTo(0, 0);
}
"""


@dataclass(frozen=True)
class FocusStop:
    """Where one press of Tab put the focus."""

    element_id: int | None
    tag: str
    href: str | None
    visible_indicator: bool


@dataclass(frozen=True)
class KeyboardWalk:
    """The tab stops a keyboard user meets, and the elements that should have been among them."""

    expected: dict[int, str]
    stops: list[FocusStop]

    @property
    def reached(self) -> set[int]:
        return {stop.element_id for stop in self.stops if stop.element_id is not None}


def keyboard_walk(page: Page, *, max_presses: int = 400) -> KeyboardWalk:
    """Press Tab from the top of the page until the focus has been round every control."""
    items = cast(list[dict[str, Any]], page.evaluate(_MARK_TABBABLE))
    expected = {int(item["id"]): str(item["describe"]) for item in items}
    page.evaluate(_RECORD_FOCUS)
    # The page records where the focus goes: one round trip per key press, none per stop.
    for _ in range(min(max_presses, len(expected) + 3)):
        page.keyboard.press("Tab")
    focused = cast(list[dict[str, Any]], page.evaluate("() => window.__a11yFocus"))
    stops: list[FocusStop] = []
    seen: set[int] = set()
    for entry in focused:
        element_id = None if entry["id"] is None else int(entry["id"])
        if element_id is not None and element_id in seen:
            break
        if element_id is not None:
            seen.add(element_id)
        stops.append(
            FocusStop(
                element_id=element_id,
                tag=str(entry["tag"]),
                href=None if entry["href"] is None else str(entry["href"]),
                visible_indicator=bool(entry["visibleFocus"]),
            )
        )
    return KeyboardWalk(expected=expected, stops=stops)


def keyboard_problems(page: Page, *, require_skip_link: bool = True) -> list[str]:
    """Readable keyboard-navigation findings for ``page`` (empty when all is well)."""
    walk = keyboard_walk(page)
    problems: list[str] = []
    if not walk.expected:
        problems.append("no keyboard-reachable control on the page (nothing was checked)")
    missing = sorted(set(walk.expected) - walk.reached)
    problems.extend(f"Tab never reaches {walk.expected[item]}" for item in missing)
    for stop in walk.stops:
        if not stop.visible_indicator:
            what = (
                walk.expected.get(stop.element_id, stop.tag)
                if stop.element_id is not None
                else stop.tag
            )
            problems.append(f"focus on {what} has no visible indicator (outline or box-shadow)")
    if require_skip_link:
        first = walk.stops[0] if walk.stops else None
        if first is None or first.tag != "a" or not (first.href or "").startswith("#"):
            problems.append('the first Tab stop is not a skip link (an <a href="#...">)')
        elif not page.evaluate(
            "id => document.getElementById(id) !== null", (first.href or "#")[1:]
        ):
            problems.append(f"the skip link points at {first.href}, which is not on the page")
    return problems


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def overflowing_elements(page: Page, limit: int = 5) -> list[str]:
    """Descriptions of the elements reaching past the right edge of the viewport."""
    return cast(
        list[str],
        page.evaluate(
            """limit => {
              const out = [];
              for (const el of document.body.querySelectorAll('*')) {
                const rect = el.getBoundingClientRect();
                if (rect.right > window.innerWidth + 1 && rect.width > 0) {
                  out.push(`${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}`
                           + ` (right edge ${Math.round(rect.right)}px)`);
                  if (out.length >= limit) break;
                }
              }
              return out;
            }""",
            limit,
        ),
    )
