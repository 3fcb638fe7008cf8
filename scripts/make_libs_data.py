"""Build sorter/data/libs_lines.csv, libs_levels.csv and ionisation_energies.csv from the curated
NIST extract in ../shared/reference (run once; the outputs are committed with their source column).

    python scripts/make_libs_data.py /work/shared/reference

What it changes relative to the reference, and why:
* Zn I 468.01/472.22/481.05 nm (A_ki "recalled", missing from the extended file): kept. Their A values
  1.55e7/4.58e7/7.0e7 s^-1 follow the LS-coupling line-strength ratio 1:3:5 of 4s5s 3S1 -> 4s4p 3P0,1,2
  within 3% after the lambda^-3 factor, and E_k - E_i matches hc/lambda within 1e-4 eV; E_i, g_i are
  taken from the 3P levels in nist_levels.csv.
* Na I 466.48/466.86/497.85/498.28 nm: the reference Stark widths (11.6 and 4.8 nm at 1e17 cm^-3) are
  2x above the hydrogenic n*^4 scaling from Na I 568.8 nm in the same file; replaced by the default
  scaling below and flagged in stark_source.
* Lines without a STARK-B width get w = C_z * lambda^2 * n*^4 (n*^2 = z^2 Ry / (E_ion - E_k)), the
  semi-empirical hydrogenic scaling (Griem 1968; Dimitrijevic & Konjevic 1980), with C_z the median
  over this file's STARK-B lines of the same ion stage; stark_source says "scaling".
* Zr has no lines with A_ki in the reference: the wavelength-only rows are dropped (documented gap).
* H-alpha/H-beta: Gigosos et al. (2003) widths. Scaled widths are capped at 2 nm.
* Carbon (lacquer and paint binders) is not in the reference: C I 247.856 nm and the lowest C I-III
  levels and ionisation energies are added from NIST ASD values entered by hand (SUPPLEMENT below;
  source column says so). Verify A_ki = 3.4e7 s^-1 against the ASD before relying on absolute C.
* Levels: only those below the ionisation limit of their species; argon dropped (not in air LIBS model).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

RY_EV = 13.605693

OUT = Path(__file__).resolve().parent.parent / "sorter" / "data"

HAND = "NIST ASD, entered by hand (not in the curated reference export); verify"
# (element, stage, air wavelength nm, A_ki 1/s, E_k eV, g_k, E_i eV, g_i, NIST accuracy)
SUPPLEMENT_LINES = [("C", 1, 247.8561, 3.4e7, 7.68476, 3, 2.68401, 1, "B")]
# species -> (g, E eV) of the lowest terms; enough for U(T) below 20,000 K
SUPPLEMENT_LEVELS = {
    "C I": [(1, 0.0), (3, 0.00203), (5, 0.00538), (5, 1.26373), (1, 2.68401), (5, 4.18259), (9, 7.4834),
            (3, 7.68476), (3, 8.5374), (15, 8.6473), (9, 8.7714), (5, 8.8482)],
    "C II": [(2, 0.0), (4, 0.00786), (12, 5.3346), (10, 9.2901), (2, 11.9637), (6, 13.7155)],
    "C III": [(1, 0.0), (9, 6.4952), (3, 12.6901)],
}
SUPPLEMENT_IE = {"C I": 11.26030, "C II": 24.38332, "C III": 47.88778}


def main(ref: Path) -> None:
    ie = {}
    with open(ref / "nist_ionization_energies.csv") as f:
        for r in csv.DictReader(f):
            ie[r["Sp. Name"]] = float(r["Ionization Energy (b) (eV)"])
    roman = {1: "I", 2: "II", 3: "III"}
    with open(ref / "nist_lines_extended.csv") as f:
        ext = list(csv.DictReader(f))
    with open(ref / "nist_lines.csv") as f:
        base = list(csv.DictReader(f))
    levels = {}
    with open(ref / "nist_levels.csv") as f:
        for r in csv.DictReader(f):
            levels.setdefault(r["Sp. Name"], []).append((float(r["g"]), float(r["Level (eV)"])))

    rows = []
    for r in ext:
        rows.append(dict(element=r["element"], ion_stage=int(r["ion_stage"]), wavelength_nm=float(r["wavelength_nm"]),
                         A_ki_per_s=float(r["A_ki_per_s"]), E_k_eV=float(r["E_k_eV"]), g_k=int(r["g_k"]),
                         E_i_eV=float(r["E_i_eV"]), g_i=int(r["g_i"]),
                         stark=float(r["stark_fwhm_nm_10kK_1e17cm3_STARKB"]) if r["stark_fwhm_nm_10kK_1e17cm3_STARKB"]
                         else None, nist_acc=r["nist_acc"], source=r["source"] + "; NIST ASD",
                         stark_source="STARK-B (reference file)" if r["stark_fwhm_nm_10kK_1e17cm3_STARKB"] else ""))
    for el, z, wl, a, e_k, g_k, e_i, g_i, acc in SUPPLEMENT_LINES:
        rows.append(dict(element=el, ion_stage=z, wavelength_nm=wl, A_ki_per_s=a, E_k_eV=e_k, g_k=g_k, E_i_eV=e_i,
                         g_i=g_i, stark=None, nist_acc=acc, source=HAND, stark_source=""))
    ie.update(SUPPLEMENT_IE)
    for sp, lv in SUPPLEMENT_LEVELS.items():
        levels[sp] = [(float(g), e) for g, e in lv]
    zn_lower = {468.0138: (4.00609, 1), 472.2153: (4.02966, 3), 481.0528: (4.07788, 5)}
    for r in base:
        if r["element"] == "Zn" and float(r["wavelength_nm"]) in zn_lower:
            wl = float(r["wavelength_nm"])
            e_i, g_i = zn_lower[wl]
            rows.append(dict(element="Zn", ion_stage=1, wavelength_nm=wl, A_ki_per_s=float(r["A_ki_per_s"]),
                             E_k_eV=float(r["E_k_eV"]), g_k=int(r["g_k"]), E_i_eV=e_i, g_i=g_i, stark=None,
                             nist_acc="", stark_source="",
                             source="NIST ASD (A_ki flagged 'recalled' in reference; checked against LS line-strength"
                                    " ratio 1:3:5 and level energies; E_i/g_i from 4s4p 3P levels)"))
    for r in rows:
        if r["element"] == "Na" and r["ion_stage"] == 1 and round(r["wavelength_nm"]) in (466, 467, 498):
            r["stark"] = None
            r["stark_source"] = "reference STARK-B value (11.6/4.8 nm) implausible; replaced by scaling"

    def nstar4(r):
        sp = f"{r['element']} {roman[r['ion_stage']]}"
        n2 = r["ion_stage"] ** 2 * RY_EV / max(ie[sp] - r["E_k_eV"], 0.3)
        return n2 * n2

    coeff = {}
    for z in (1, 2):
        ratios = sorted(r["stark"] / (r["wavelength_nm"] ** 2 * nstar4(r)) for r in rows
                        if r["ion_stage"] == z and r["stark"] and r["element"] != "H")
        coeff[z] = ratios[len(ratios) // 2]
        print(f"ion stage {z}: C = {coeff[z]:.3e} nm^-1 from {len(ratios)} STARK-B lines")  # noqa: T201 (build script)
    for r in rows:
        if r["stark"] is None:
            r["stark"] = coeff[r["ion_stage"]] * r["wavelength_nm"] ** 2 * nstar4(r)
            r["stark_source"] = (r["stark_source"] + "; " if r["stark_source"] else "") + (
                f"scaling C*lambda^2*n*^4, C={coeff[r['ion_stage']]:.3e} (median of STARK-B lines, stage "
                f"{r['ion_stage']})")
    for r in rows:
        if r["element"] == "H" and round(r["wavelength_nm"]) in (656, 486):
            # Balmer lines broaden by the linear Stark effect, not by the n*^4 scaling
            r["stark"] = 1.098 if round(r["wavelength_nm"]) == 656 else 4.8
            r["stark_source"] = ("Gigosos, Gonzalez & Cardenoso, Spectrochim. Acta B 58 (2003) 1489: FWHM at "
                                 "1e17 cm^-3 (n_e^0.68 law approximated as linear)")
        if r["stark"] > 2.0 and "scaling" in r["stark_source"]:
            r["stark"] = 2.0
            r["stark_source"] += "; capped at 2 nm (upper level within 0.3 eV of the limit)"
    rows.sort(key=lambda r: (r["element"], r["ion_stage"], r["wavelength_nm"]))
    cols = ["element", "ion_stage", "wavelength_nm", "A_ki_per_s", "E_k_eV", "g_k", "E_i_eV", "g_i",
            "stark_fwhm_nm", "nist_acc", "stark_source", "source"]
    with open(OUT / "libs_lines.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([r["element"], r["ion_stage"], f"{r['wavelength_nm']:.4f}", f"{r['A_ki_per_s']:.4g}",
                        f"{r['E_k_eV']:.5f}", r["g_k"], f"{r['E_i_eV']:.5f}", r["g_i"], f"{r['stark']:.5f}",
                        r["nist_acc"], r["stark_source"], r["source"]])

    with open(OUT / "libs_levels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["species", "g", "E_eV"])
        for sp, lv in levels.items():
            if sp.startswith("Ar"):
                continue
            merged = {}
            for g, e in lv:
                if e < ie[sp]:
                    key = round(e, 4)
                    merged[key] = merged.get(key, 0) + g
            for e, g in sorted(merged.items()):
                w.writerow([sp, f"{g:g}", f"{e:.4f}"])
    with open(OUT / "ionisation_energies.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["species", "E_ion_eV", "source"])
        for sp, e in ie.items():
            if not sp.startswith("Ar"):
                w.writerow([sp, e, HAND if sp in SUPPLEMENT_IE else "NIST ASD ionization energies database"])


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/reference"))
