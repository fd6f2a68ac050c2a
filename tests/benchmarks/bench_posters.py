"""Posters: one poster (layout, PDF, PNG), then the 1,000 venues of one commune through the CLI."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main as cli
from documents.posters import pdf as pdf_backend
from documents.posters import png as png_backend
from documents.posters.layout import poster_layout
from documents.posters.words import poster_words, printed_channels
from storage.venue_codes import new_code, sign
from texts.content import Content

VENUES = 1000
KINDS = ("government_office", "school", "market", "enterprise", "restaurant_hotel", "other")


def one_poster() -> None:
    content = Content.load()

    def request():
        code = new_code()
        words = poster_words(
            content,
            venue_name="Trung tâm Phục vụ hành chính công – Bộ phận Một cửa",
            venue_address="Số 12 phố Lý Thường Kiệt",
            commune="Phường Hoàn Kiếm, Thành phố Hà Nội",
            code=code,
            channels=printed_channels(content, {"telegram": "bluezone_vn_bot"}),
            web=False,
        )
        return words, f"https://t.me/bluezone_vn_bot?start={sign('bench-signing-key-16', code)}"

    started = time.perf_counter()
    layout = poster_layout(*request())
    pdf, png = pdf_backend.draw(layout), png_backend.draw(layout)
    first = (time.perf_counter() - started) * 1000
    times: dict[str, list[float]] = {"layout": [], "pdf": [], "png": []}
    for _ in range(30):
        t0 = time.perf_counter()
        layout = poster_layout(*request())
        t1 = time.perf_counter()
        pdf = pdf_backend.draw(layout)
        t2 = time.perf_counter()
        png = png_backend.draw(layout)
        t3 = time.perf_counter()
        times["layout"].append((t1 - t0) * 1000)
        times["pdf"].append((t2 - t1) * 1000)
        times["png"].append((t3 - t2) * 1000)
    mean = {k: statistics.mean(v) for k, v in times.items()}
    print(f"   first poster (fonts loaded) {first:.0f} ms")
    print(
        f"   one poster, mean of 30: layout {mean['layout']:.1f} ms, PDF {mean['pdf']:.1f} ms, PNG {mean['png']:.1f} ms; "
        f"PDF + PNG {sum(mean.values()):.0f} ms; PDF {len(pdf) / 1024:.0f} KiB, PNG {len(png) / 1024:.0f} KiB"
    )


def commune_of_a_thousand() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "QR_SIGNING_KEY": "bench-signing-key-16",
            "TELEGRAM_BOT_USERNAME": "bluezone_vn_bot",
            "LOG_LEVEL": "WARNING",
        }
        runner = CliRunner(env={**os.environ, **env})
        rows = ["name,type,commune_code,address"]
        rows += [
            f"Điểm check-in số {i} – Cửa hàng Ặ ế ở ự,{KINDS[i % len(KINDS)]},00070,Số {i} phố Hàng Đào"
            for i in range(VENUES)
        ]
        csv_file = Path(tmp) / "venues.csv"
        csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        assert runner.invoke(cli, ["units", "load"]).exit_code == 0
        started = time.perf_counter()
        result = runner.invoke(cli, ["venue", "import", str(csv_file)])
        imported = time.perf_counter() - started
        assert result.exit_code == 0, result.output
        for formats in ("pdf", "both"):
            out = Path(tmp) / f"posters-{formats}"
            started = time.perf_counter()
            result = runner.invoke(cli, ["posters", "--commune", "00070", "--out", str(out), "--format", formats])
            elapsed = time.perf_counter() - started
            assert result.exit_code == 0, result.output
            files = list(out.iterdir())
            size = sum(f.stat().st_size for f in files) / 1024**2
            print(
                f"   `posters --format {formats}` for {VENUES} venues of one commune: {elapsed:.1f} s "
                f"({elapsed / VENUES * 1000:.0f} ms a venue), {len(files)} files, {size:.0f} MiB"
            )
        print(f"   `venue import` of {VENUES} venues: {imported:.1f} s")


def main() -> None:
    one_poster()
    commune_of_a_thousand()


if __name__ == "__main__":
    main()
