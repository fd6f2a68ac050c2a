"""Install progress in words and pictures: the summary officials read in chat and each morning."""

from __future__ import annotations

import datetime as dt

from documents.charts import Bar, bar_chart
from handlers.types import Attachment
from storage.tally import Tally, TallyRow
from texts import Join, Percent, Text, t
from texts.content import Content

BEHIND = 10


def summary_lines(row: TallyRow, as_of: dt.date) -> list[Text]:
    lines = []
    if row.rate is not None:
        lines.append(
            t(
                "tally.summary.rate",
                installed=row.installed,
                denominator=row.denominator,
                kind=t(f"tally.denominators.{row.denominator_kind}"),
                rate=Percent(row.rate),
            )
        )
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
                    with_figures=summed.communes_with_figures,
                    communes=summed.communes,
                )
            )
    elif row.communes > 1:
        lines.append(t("tally.summary.coverage", with_figures=row.communes_with_figures, communes=row.communes))
    if row.target is None:
        lines.append(t("tally.summary.no_target"))
    elif row.gap == 0:
        lines.append(
            t("tally.summary.target_reached", target=Percent.target(row.target.rate), deadline=row.target.deadline)
        )
    elif row.gap is not None:
        lines.append(
            t("tally.summary.target", target=Percent.target(row.target.rate), deadline=row.target.deadline, gap=row.gap)
        )
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


def summary_text(tally: Tally, unit_name: Text | str) -> Text:
    """The unit's summary; for a province or the country also the communes furthest behind."""
    lines: list[Text] = [t("tally.summary.title", unit=unit_name, date=tally.as_of)]
    lines.extend(summary_lines(tally.totals, tally.as_of))
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


def chart(tally: Tally, unit_name: str, content: Content, title: Text | None = None) -> Attachment:
    """One bar per row (commune, or province for the country), lowest rate first (those without
    figures last), with the target; `title` replaces the per-commune chart title."""
    rows = sorted(tally.rows, key=lambda r: (r.rate is None, r.rate or 0, r.name))
    bars = [
        Bar(
            r.name,
            r.rate,
            r.target_rate,
            content.format_value(Percent(r.rate)) if r.rate is not None else content.render(t("tally.summary.no_data")),
        )
        for r in rows
    ]
    target = tally.totals.target_rate
    png = bar_chart(
        content.render(title or t("tally.summary.chart_title", unit=unit_name, date=tally.as_of)),
        bars,
        content.render(t("tally.summary.chart_target", target=Percent.target(target))) if target else None,
    )
    return Attachment("image", f"tien-do-{tally.unit_code}-{tally.as_of.isoformat()}.png", png, "image/png")
