"""Cut the fonts in drawn/fonts from Debian's font packages: the capitals A-Z only, what drawn.negatives draws.

A one-off tool, not run by the app or the tests (fontTools is no dependency of the project):

    apt-get install -y fonts-dejavu-core fonts-liberation2 fonts-crosextra-carlito fonts-freefont-ttf \\
        fonts-urw-base35 fonts-comic-neue
    pip install fonttools && python -m drawn.subset_fonts

Each font of drawn.negatives.FONTS is cut from its ``source`` with fontTools' subsetter, hinting and
every name record kept, so FreeType draws each letter pixel for pixel as from the full font
(tests/drawn/test_negatives.py compares them where the packages are installed). A subset is a Modified
Version under the SIL OFL, which may not carry a Reserved Font Name, so Liberation and Carlito are
renamed (RENAMED). Each folder gets the copyright file of the Debian package it comes from (PACKAGES)
and the license texts that file points to. The output is the same on every run.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from .negatives import FONTS, LETTERS

#: Folder under drawn/fonts -> the Debian package its fonts come from.
PACKAGES = {
    "dejavu": "fonts-dejavu-core",
    "liberation": "fonts-liberation2",
    "carlito": "fonts-crosextra-carlito",
    "freefont": "fonts-freefont-ttf",
    "urw-base35": "fonts-urw-base35",
    "comic-neue": "fonts-comic-neue",
}
#: Reserved Font Name (SIL OFL) -> the name its subsets carry instead (spaces dropped in PostScript names).
RENAMED = {"Liberation": "Digit Lab", "Carlito": "Digit Lab Humanist"}
#: name IDs that name the font (family, unique ID, full name, PostScript name, typographic family...);
#: the copyright (0), trademark (7), description (10) and license (13, 14) records are kept as they are.
NAME_IDS = (1, 3, 4, 6, 16, 17, 18, 20, 21, 22, 25)


def subset_font(source: str, path: str) -> None:
    """Write the capitals A-Z of the font file ``source`` to ``path`` (renamed if it has a Reserved Font Name)."""
    from fontTools import subset

    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and license records
    options.name_languages = ["*"]
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in LETTERS])
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in NAME_IDS:
            text = record.toUnicode()
            for reserved, new in RENAMED.items():
                text = text.replace(reserved, new if record.nameID != 6 else new.replace(" ", ""))
            record.string = text
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, path, options)


def copy_licenses(folder: Path, package: str) -> None:
    """The package's Debian copyright file, and the license texts it only points to, into ``folder``."""
    doc = Path("/usr/share/doc") / package
    shutil.copyfile(doc / "copyright", folder / "copyright")
    if package == "fonts-freefont-ttf":  # "GPL-3+ with font exception": the GPL's text is in common-licenses
        shutil.copyfile("/usr/share/common-licenses/GPL-3", folder / "GPL-3")
    if package == "fonts-dejavu-core":  # Debian's file leaves out the Arev license; the fonts carry both
        from fontTools.ttLib import TTFont

        source = next(f.source for f in FONTS if Path(f.path).parent.name == "dejavu")
        (folder / "LICENSE").write_text(TTFont(source)["name"].getDebugName(13).rstrip() + "\n")


def main() -> None:
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # FontForge's FFTM table is dropped, and old timestamps
    for f in FONTS:
        subset_font(f.source, f.path)
    fonts_dir = Path(FONTS[0].path).parent.parent
    for folder, package in PACKAGES.items():
        copy_licenses(fonts_dir / folder, package)


if __name__ == "__main__":
    main()
