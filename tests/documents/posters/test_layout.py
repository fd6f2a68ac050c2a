"""The poster's layout and its two drawings: everything on the page, the QR at 15 cm or more
with its quiet zone clear, text as embedded text, the QR as vectors, the PDF and PNG alike."""

from __future__ import annotations

import io
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from documents.posters import make_poster
from documents.posters.fonts import POINT, ink, width_mm
from documents.posters.layout import ELLIPSIS, MARGIN, QR_MAX, QR_MIN, QUIET_MODULES, fit, poster_layout, wrap
from documents.posters.venue import commune_label
from documents.posters.words import poster_words, printed_channels
from storage.folding import fold
from storage.models import Venue
from storage.units import CommuneEntry
from storage.venue_codes import new_code, sign
from tests.documents.posters.tools import decode_qr, rasterise
from texts.content import Content

CONTENT = Content.load()
WORDS = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ",
    min_size=1,
    max_size=12,
)


def words_for(
    name: str,
    address: str = "Số 12 phố Lý Thường Kiệt",
    handle: str = "bluezone_vn_bot",
    code: str | None = None,
    web: bool = False,
):
    return poster_words(
        CONTENT,
        venue_name=name,
        venue_address=address,
        commune="Phường Hoàn Kiếm, Thành phố Hà Nội",
        code=code or new_code(),
        channels=printed_channels(CONTENT, {"telegram": handle}),
        web=web,
    )


def link(handle: str = "bluezone_vn_bot") -> str:
    return f"https://t.me/{handle}?start={sign('layout-tests-key-16', new_code())}"


def ink_box(line) -> tuple[float, float, float, float]:
    """left, top, right, bottom of a line's glyphs in mm, from FreeType's outlines."""
    width = width_mm(line.text, line.weight, line.size)
    left = line.x - width / 2 if line.centered else line.x
    up, down = ink(line.text, line.weight)
    return left, line.baseline - up * line.size * POINT, left + width, line.baseline + down * line.size * POINT


def name_lines(layout) -> list:
    """The venue's name is the one line set in bold (the headline and the code are extrabold)."""
    return [t for t in layout.texts() if t.weight == "bold"]


def check_name_leads(layout) -> None:
    """After the headline, the venue's name is the largest text on the page."""
    headline, *others = layout.texts()
    name = name_lines(layout)
    assert name and all(headline.size > t.size for t in name)
    assert all(t.size < name[0].size for t in others if t not in name), [(t.text, t.size) for t in others]


def check_words_whole(printed: list[str], text: str) -> None:
    """Every word printed is a word of `text`, never a piece of one; only the last line may be
    shortened, at its end, with an ellipsis."""
    words = set(text.split())
    for i, line in enumerate(printed):
        shown = line.split()
        if line.endswith(ELLIPSIS):
            assert i == len(printed) - 1
            shown[-1] = shown[-1].removesuffix(ELLIPSIS)
            if not shown[-1]:
                shown.pop()
            # a word alone on a line too narrow for it at the smallest size is cut, with the ellipsis
            *shown, last = shown or [""]
            assert not last or any(w.startswith(last) for w in words), line
        assert all(w in words for w in shown), (line, text)


def check_fits(layout) -> None:
    boxes = [ink_box(line) for line in layout.texts()]
    for i, a in enumerate(boxes):  # no two lines touch
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] + 0.01 or b[3] <= a[1] + 0.01, (a, b)
    qr = layout.qr
    assert QR_MIN - 1e-6 <= qr.side <= QR_MAX + 1e-6
    quiet = QUIET_MODULES * qr.module
    assert qr.x - quiet >= 0 and qr.x + qr.side + quiet <= layout.width
    for line in layout.texts():
        left, top, right, bottom = ink_box(line)
        assert MARGIN - 0.01 <= left and right <= layout.width - MARGIN + 0.01, line
        assert 0 <= top and bottom <= layout.height, line
        # Nothing printed in the QR or its quiet zone.
        assert bottom <= qr.y - quiet + 0.01 or top >= qr.y + qr.side + quiet - 0.01, line
        assert unicodedata.is_normalized("NFC", line.text)


@given(
    st.tuples(st.lists(WORDS, min_size=1, max_size=40), st.sampled_from([str.title, str.upper, str.lower])).map(
        lambda p: p[1](" ".join(p[0]))[:200]
    ),
    st.lists(WORDS, min_size=1, max_size=60).map(" ".join).map(lambda s: s[:300]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=5, max_size=32),
    st.booleans(),
)
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_venue_fits_the_page_with_a_large_qr(name, address, handle, web):
    words = words_for(name, address, handle, web=web)
    layout = poster_layout(words, link(handle))
    check_fits(layout)
    check_name_leads(layout)
    check_words_whole([t.text for t in name_lines(layout)], words.venue_name)
    assert layout.qr.version <= 5 and layout.qr.level == "M"


def test_short_names_keep_the_qr_at_155_mm_and_print_whole():
    for name in ("Chợ Hàng Da", "Trung tâm Phục vụ hành chính công tỉnh Thái Bình – Bộ phận Một cửa"):
        layout = poster_layout(words_for(name), link())
        assert layout.qr.side >= 155 and layout.whole
        assert name in " ".join(t.text for t in layout.texts())


def test_decomposed_accents_and_emoji_are_printed_composed_or_not_at_all():
    nfd = unicodedata.normalize("NFD", "Nhà hàng Biển Xanh 🐟 Quầy số 5")
    layout = poster_layout(words_for(nfd), link())
    printed = [t.text for t in layout.texts()]
    assert "Nhà hàng Biển Xanh Quầy số 5" in printed or "Nhà hàng Biển Xanh  Quầy số 5".replace("  ", " ") in " ".join(
        printed
    )
    assert all(unicodedata.is_normalized("NFC", t) and "🐟" not in t for t in printed)


@pytest.fixture(scope="module")
def poster():
    code = new_code()
    words = words_for("Điểm test: ế ở ự Ặ – Trường THCS Nguyễn Huệ", code=code)
    return code, words, make_poster(words, link())


def test_pdf_is_a4_with_embedded_text_and_a_vector_qr(poster, pdftoppm, tmp_path):
    code, words, drawn = poster
    tools = Path(pdftoppm).parent
    source = tmp_path / "p.pdf"
    source.write_bytes(drawn.pdf)
    run = lambda tool, *args: (
        subprocess.run(
            [str(tools / tool), *args, str(source), "-"]
            if tool == "pdftotext"
            else [str(tools / tool), *args, str(source)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    info = run("pdfinfo")
    assert "Pages:           1" in info and "595.276 x 841.89 pts (A4)" in info
    fonts = run("pdffonts").splitlines()[2:]
    assert fonts and all("BeVietnamPro" in f and f.split()[-5:-2] == ["yes", "yes", "yes"] for f in fonts), (
        fonts
    )  # embedded, subset, with ToUnicode
    assert run("pdfimages", "-list").splitlines()[2:] == []  # no raster image: the QR is vectors
    text = run("pdftotext", "-layout")
    assert "Điểm test: ế ở ự Ặ" in text and f"CHECKIN {code}" in text


def test_pdf_and_png_are_one_layout(poster, pdftoppm, tmp_path):
    _, _, drawn = poster
    ours = Image.open(io.BytesIO(drawn.png)).convert("L")
    theirs = rasterise(pdftoppm, drawn.pdf, tmp_path, dpi=150).convert("L").crop((0, 0, *ours.size))
    histogram = ImageChops.difference(ours, theirs).histogram()
    differing = sum(histogram[129:]) / sum(histogram)
    assert differing < 0.02  # anti-aliasing at edges only; a moved line or box would be far more
    assert decode_qr(ours)[0] == decode_qr(theirs)[0] == drawn.layout.qr.data


def test_poster_names_every_channel_with_its_handle_and_zalo_can_plug_in():
    content = Content(
        {
            **CONTENT.tree,
            "poster": {
                **CONTENT.tree["poster"],
                "channels": {**CONTENT.tree["poster"]["channels"], "zalo": "Zalo {handle}"},
            },
        }
    )
    channels = printed_channels(content, {"zalo": "Bluezone OA", "telegram": "@bz_bot", "terminal": "x"})
    assert [(c.name, c.handle) for c in channels] == [("telegram", "bz_bot"), ("zalo", "Bluezone OA")]
    words = poster_words(
        content, venue_name="Chợ", venue_address="x", commune="y", code=new_code(), channels=channels, web=False
    )
    assert words.channels.endswith("Telegram @bz_bot · Zalo Bluezone OA")  # a separator that survives wrapping
    assert "@bz_bot" in words.manual_instruction
    with pytest.raises(ValueError):
        poster_words(CONTENT, venue_name="Chợ", venue_address="x", commune="y", code=new_code(), channels=[], web=False)


@pytest.mark.parametrize(
    ("name", "at_least"),
    [
        ("Chợ Hàng Da", 24),  # 22 pt at most before: smaller than the 30 pt code under the QR
        ("UBND xã Đức Hòa", 24),
        ("Trung tâm Phục vụ hành chính công tỉnh Thái Bình – Bộ phận Một cửa", 16),
    ],
)
def test_the_venues_name_is_the_largest_text_after_the_headline(name, at_least):
    layout = poster_layout(words_for(name), link())
    check_name_leads(layout)
    assert name_lines(layout)[0].size >= at_least
    assert layout.qr.side >= 155 and layout.whole


def test_a_word_is_never_split_across_lines():
    # Before, "Trung tâm … Bộ phận Một cửa" at 15 pt could leave "cửa" or half a word on a line.
    assert wrap("Bệnh viện Đa khoa", "bold", 200, 50) == ["Bệnh", "viện", "Đa", "khoa"]
    long_word = "Nhàvănhóathônphúhòađôngvàtrungtâmhọctậpcộngđồng"
    assert wrap(long_word, "bold", 30, 100) == [long_word]  # too wide, but whole: fit sets it smaller
    size, lines = fit(long_word, "bold", 100, 28, 16, 2)
    assert lines == [long_word] and size < 16 and width_mm(long_word, "bold", size) <= 100
    layout = poster_layout(words_for(f"Quán {long_word} số 5"), link())
    check_fits(layout)
    check_words_whole([t.text for t in name_lines(layout)], f"Quán {long_word} số 5")


def commune(name: str, province: str) -> CommuneEntry:
    key = " ".join(fold(name).split()[1:])  # without "xã"/"phường", as CommuneIndex keeps it
    return CommuneEntry("25747", name, "commune", "80", province, key)


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("Số 12 đường 30/4", "Xã Đức Hòa, Tây Ninh"),
        ("Ấp 3, xã Đức Hòa", "Tây Ninh"),  # the commune already there: the province alone
        ("ap 3, XA DUC HOA, tay ninh", None),  # without accents, in capitals: both already there
        ("Khu phố 2, phường Đức Hoà, tỉnh Tây Ninh", None),  # the old tone placement (Hoà) alike
        ("Số 5 đường Đức Hòang", "Xã Đức Hòa, Tây Ninh"),  # whole words only
    ],
)
def test_the_poster_does_not_repeat_the_commune_the_address_names(address, label):
    venue = Venue(code="AB23CD7", name="Chợ", address=address, commune_code="25747")
    assert commune_label(CONTENT, venue, commune("Xã Đức Hòa", "Tây Ninh")) == label
    words = poster_words(
        CONTENT,
        venue_name="Chợ",
        venue_address=address,
        commune=label,
        code="AB23CD7",
        channels=printed_channels(CONTENT, {"telegram": "bz_bot"}),
        web=False,
    )
    printed = f" {fold(words.venue_address)} "
    assert printed.count(" duc hoa ") == 1 and printed.count(" tay ninh ") == 1


def test_a_numbered_ward_is_not_found_in_a_house_number():
    ward = CommuneEntry("26734", "Phường 1", "ward", "79", "Thành phố Hồ Chí Minh", "1")
    venue = Venue(code="AB23CD7", name="Chợ", address="Số 1 đường Lê Lợi, Hồ Chí Minh", commune_code="26734")
    assert commune_label(CONTENT, venue, ward) == "Phường 1, Thành phố Hồ Chí Minh"
    venue.address = "Số 1 đường Lê Lợi, phường 1, TP Hồ Chí Minh"
    assert commune_label(CONTENT, venue, ward) is None
