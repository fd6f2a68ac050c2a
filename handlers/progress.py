"""Install progress in words and pictures: the summary officials read in chat and each morning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction

from documents.charts import Band, Bar, Glance, Section, glance_chart
from documents.coverage import coverage
from handlers.types import Attachment
from storage.tally import Tally, TallyRow
from storage.units import CommuneIndex
from texts import Divisions, Join, Percent, Text, t
from texts.content import Content

BEHIND = 10


def summary_lines(row: TallyRow, as_of: dt.date, kinds: Iterable[str] = ()) -> list[Text]:
    """The lines of one unit's figures; a sum of several communes (of division types `kinds`) says
    how many of them its figures come from."""
    lines = []
    if row.rate is not None:
        values = {
            "installed": row.installed,
            "denominator": row.denominator,
            "kind": t(f"tally.denominators.{row.denominator_kind}"),
            "rate": Percent(row.rate),
        }
        if row.communes > 1 and not row.own_figure:
            covered = coverage(row.communes_with_figures, row.communes, kinds)
            lines.append(t("tally.summary.rate_covered", **values, coverage=covered))
        else:
            lines.append(t("tally.summary.rate", **values))
    elif row.communes > 1:
        lines.append(t("tally.summary.no_figures_any", units=Divisions(frozenset(kinds))))
    else:
        lines.append(t("tally.summary.no_figures"))
    if row.own_figure and row.communes > 1:
        # The unit's own total, as the letters report a city's; its communes' sum beside it
        # where the two disagree.
        lines.append(t("tally.summary.own_figure"))
        summed = row.summed
        if summed is not None and summed.installed is not None:
            lines.append(
                t(
                    "tally.summary.summed",
                    installed=summed.installed,
                    denominator=summed.denominator,
                    rate=Percent(summed.rate) if summed.rate is not None else t("tally.summary.share_none"),
                    coverage=coverage(summed.communes_with_figures, summed.communes, kinds),
                )
            )
    if row.target is None:
        lines.append(t("tally.summary.no_target"))
    elif row.gap == 0:
        lines.append(
            t("tally.summary.target_reached", target=Percent.target(row.target.rate), deadline=row.target.deadline)
        )
    elif row.gap is not None:
        target = {"target": Percent.target(row.target.rate), "deadline": row.target.deadline, "gap": row.gap}
        if row.communes_with_figures < row.communes:
            # The gap of the communes with figures only: not the whole unit's, and it says so.
            covered = coverage(row.communes_with_figures, row.communes, kinds)
            lines.append(t("tally.summary.target_covered", **target, coverage=covered))
        else:
            lines.append(t("tally.summary.target", **target))
        projected = row.projected(as_of)
        if row.gain is None:
            # One count only: no pace to speak of yet (not "stalled").
            lines.append(t("tally.summary.pace_unknown"))
        elif projected is None:
            lines.append(t("tally.summary.pace_stalled"))
        else:
            key = "tally.summary.pace_late" if row.late(as_of) else "tally.summary.pace"
            lines.append(t(key, gain=row.gain, projected=projected))
    a = row.activity
    share = row.checkins_installed_share
    lines.append(
        t(
            "tally.summary.activity",
            households=a["households_visited"],
            revisits=a["revisits"],
            helped=a["installs_helped"],
            already=a["already_installed"],
            nobody_home=a["nobody_home"],
            checkins=a["checkins"],
            share=Percent(share) if share is not None else t("tally.summary.share_none"),
            self_reported=a["self_reported_installs"],
            volunteers=a["active_volunteers"],
            venues=a["venues"],
        )
    )
    return lines


def summary_text(tally: Tally, unit_name: Text | str, kinds: Iterable[str] = ()) -> Text:
    """The unit's summary; for a province or the country also the communes furthest behind.
    `kinds`: the division types of its communes (see division_kinds), for its coverage."""
    lines: list[Text] = [t("tally.summary.title", unit=unit_name, date=tally.as_of)]
    lines.extend(summary_lines(tally.totals, tally.as_of, kinds))
    if len(tally.rows) > 1:
        behind = tally.furthest_behind(BEHIND)
        if behind:
            lines.append(t("tally.summary.behind_title"))
            for n, row in enumerate(behind, start=1):
                if row.rate is None:
                    lines.append(t("tally.summary.behind_line_no_figures", number=n, name=row.name))
                else:
                    assert row.target is not None  # furthest_behind ranks only units with a target
                    lines.append(
                        t(
                            "tally.summary.behind_line",
                            number=n,
                            name=row.name,
                            rate=Percent(row.rate),
                            target=Percent.target(row.target.rate),
                            gap=row.gap,
                        )
                    )
    if tally.carried:
        # Recorded on the map before 1 July 2025: as recorded, never mixed with today's figures.
        lines.append(t("tally.summary.carried_title"))
        for row in tally.carried:
            assert row.carried_from is not None  # what makes a row carried
            lines.append(
                t(
                    "tally.summary.carried_line",
                    name=row.carried_from.name,
                    installed=row.installed,
                    denominator=row.denominator if row.denominator is not None else t("tally.summary.share_none"),
                    rate=Percent(row.rate) if row.rate is not None else t("tally.summary.share_none"),
                    unit=row.name,
                )
            )
    return t("common.lines", lines=Join(tuple(lines), "\n"))


def division_kinds(communes: CommuneIndex, tally: Tally) -> frozenset[str]:
    """The division types of the tally's communes, as the units data writes them."""
    return frozenset(e.division_type for r in tally.rows if (e := communes.get(r.code)) is not None)


def chart(tally: Tally, shown: Glance) -> Attachment:
    """The tally's picture of what `glance` chose to show (documents.charts)."""
    png = glance_chart(shown)
    return Attachment("image", f"tien-do-{tally.unit_code}-{tally.as_of.isoformat()}.png", png, "image/png")


def glance(
    tally: Tally,
    unit_name: str,
    content: Content,
    kinds: Iterable[str] = (),
    title: Text | None = None,
    provinces: bool = False,
    districts: bool = False,
) -> Glance:
    """What the chart shows, in words: the notes, the units furthest behind and ahead, the bands.
    Its rows are communes (of division types `kinds`), or provinces for the country when
    `provinces`, or a province's districts on the pre-2025 map when `districts`; `title` replaces
    the per-commune chart title."""
    kinds = frozenset(kinds)
    units = t("tally.chart.provinces") if provinces else t("tally.chart.districts") if districts else Divisions(kinds)
    ranked = sorted((r for r in tally.rows if r.rate is not None), key=lambda r: (_standing(r), r.name))
    targeted = any(r.target is not None for r in ranked)
    single = len(tally.rows) == 1  # a commune: its own bar, no coverage, no distribution
    target = tally.totals.target_rate
    render = content.render
    return Glance(
        title=render(title or t("tally.summary.chart_title", unit=unit_name, date=tally.as_of)),
        notes=[render(n) for n in _notes(tally, kinds, units, len(ranked))],
        sections=_sections(ranked, targeted, single, units, content),
        distribution_heading=render(t("tally.chart.by_target" if targeted else "tally.chart.by_rate", units=units)),
        bands=_bands(ranked, targeted, content) if ranked and not single else [],
        target_label=render(t("tally.summary.chart_target", target=Percent.target(target))) if target else None,
    )


def _notes(tally: Tally, kinds: frozenset[str], units: Text | Divisions, with_figures: int) -> list[Text]:
    """Under the chart's title: the rate with its coverage, the target, how many units are not drawn."""
    totals = tally.totals
    single = len(tally.rows) == 1
    notes: list[Text] = []
    if totals.rate is None:
        notes.append(t("tally.chart.no_figures_one" if single else "tally.chart.no_figures", units=units))
    elif single:
        notes.append(t("tally.chart.rate", rate=Percent(totals.rate)))
    else:
        covered = coverage(totals.communes_with_figures, totals.communes, kinds)
        notes.append(t("tally.chart.overall", rate=Percent(totals.rate), coverage=covered))
    if totals.target is not None:
        notes.append(
            t("tally.chart.target", target=Percent.target(totals.target.rate), deadline=totals.target.deadline)
        )
    else:
        notes.append(t("tally.summary.no_target"))
    missing = len(tally.rows) - with_figures
    if missing and not single:
        notes.append(t("tally.chart.missing", count=missing, units=units))
    return notes


def _sections(
    ranked: list[TallyRow], targeted: bool, single: bool, units: Text | Divisions, content: Content
) -> list[Section]:
    """The bars: every unit with figures when they are few, else the furthest behind and ahead."""
    if not ranked:
        return []
    if single:
        return [Section("", _bars(ranked, content))]
    if len(ranked) <= GLANCE_BEHIND + GLANCE_AHEAD:
        return [Section(content.render(t("tally.chart.all", units=units)), _bars(ranked, content))]
    behind = ranked[:GLANCE_BEHIND]
    ahead = ranked[: -GLANCE_AHEAD - 1 : -1]  # the best first
    key = "tally.chart.behind" if targeted else "tally.chart.lowest"
    return [
        Section(content.render(t(key, count=len(behind), units=units)), _bars(behind, content)),
        Section(content.render(t("tally.chart.ahead", count=len(ahead), units=units)), _bars(ahead, content)),
    ]


# The chart's bars: the units furthest behind their target, and those furthest ahead.
GLANCE_BEHIND = 8
GLANCE_AHEAD = 5
# The distribution's bands: of rate against the target (a half, three quarters, reached), or of
# the rate itself when no unit has a target.
TARGET_BANDS = (Fraction(1, 2), Fraction(3, 4), Fraction(1))
TARGET_STATES = ("far", "half", "near", "reached")
RATE_BANDS = (Fraction(1, 5), Fraction(2, 5), Fraction(3, 5), Fraction(4, 5))


def _standing(row: TallyRow) -> Fraction:
    """Rate minus target (the rate alone without one): lowest is furthest behind."""
    assert row.rate is not None
    return row.rate - (row.target_rate or 0)


def _bars(rows: list[TallyRow], content: Content) -> list[Bar]:
    return [
        Bar(r.name, r.rate, r.target_rate, content.format_value(Percent(r.rate))) for r in rows if r.rate is not None
    ]


def _bands(rows: list[TallyRow], targeted: bool, content: Content) -> list[Band]:
    """How many of `rows` (all with figures) fall in each band; with targets, those without one apart."""
    edges = TARGET_BANDS if targeted else RATE_BANDS
    counts = [0] * (len(edges) + 1)
    untargeted = 0
    for row in rows:
        assert row.rate is not None
        if targeted and row.target_rate is None:
            untargeted += 1
            continue
        value = row.rate / row.target_rate if targeted and row.target_rate else row.rate
        counts[sum(value >= edge for edge in edges)] += 1
    prefix = "tally.chart.target_band" if targeted else "tally.chart.rate_band"
    bands = []
    for n, count in enumerate(counts):
        if n == 0:
            label = t(f"{prefix}_below", high=Percent.target(edges[0]))
        elif n == len(edges):
            label = t(f"{prefix}_top", low=Percent.target(edges[-1]))
        else:
            label = t(f"{prefix}_between", low=Percent.target(edges[n - 1]), high=Percent.target(edges[n]))
        state = TARGET_STATES[n] if targeted else "plain"
        bands.append(Band(content.render(label), count, content.format_value(count), state))
    if untargeted:
        bands.append(
            Band(content.render(t("tally.chart.no_target_band")), untargeted, content.format_value(untargeted))
        )
    return bands
