"""The demo's chain writes a heat report whose PDF renders with its plot and certificate page."""

from __future__ import annotations

import json

import pypdfium2 as pdfium

from aluloop.commands.demo_chain import run_chain
from tests.api.heats_support import UBC_INVENTORY

BAND_RGB = (0xCF, 0xE8, 0xCF)   # the limit bands of the chemistry plot


def test_the_demo_chain_writes_a_report_whose_pdf_renders(tmp_path):
    done = run_chain(tmp_path, UBC_INVENTORY, "3104", 20_000, pieces=60)
    report = done["report"]
    assert done["pieces"] == 60 and done["lots"] >= 1
    assert report["analyses"] and report["trims"]
    # the sorted lots that went into the charge are in the report with their statistics
    charged_lots = [c for c in report["charge"] if c["source_lots"]]
    assert charged_lots and all(c["lot"]["pieces"] >= 1 for c in charged_lots)
    assert "<svg" in done["html"].read_text(encoding="utf-8")
    doc = pdfium.PdfDocument(str(done["pdf"]))
    assert len(doc) >= 2
    page1 = doc[0].render(scale=1.5).to_pil().convert("RGB")
    page1.save(tmp_path / "report-page1.png")
    band = sum(1 for px in page1.getdata() if all(abs(a - b) < 8 for a, b in zip(px, BAND_RGB, strict=True)))
    assert band > 2000, band
    last = doc[len(doc) - 1].get_textpage().get_text_range()
    assert "EN 10204 type 3.1" in last and report["heat_number"] in last
    assert json.loads(json.dumps(report))["footprint"]["kg_co2e_per_t"] > 0
