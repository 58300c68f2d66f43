"""Licences: Debian machine-readable copyright files and gcompris' per-folder READMEs."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Stanza:
    """A `Files:` paragraph of a machine-readable debian/copyright file."""

    patterns: tuple[str, ...]
    licence: str
    copyright: str


UNKNOWN = Stanza((), "unknown", "")  # what a file no stanza matches gets


def parse_deb822(text: str) -> list[dict[str, str]]:
    """Paragraphs of `Field: value` lines; indented lines continue the previous field."""
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0] in " \t":
            if key:
                current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip()
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def parse_copyright(text: str) -> list[Stanza]:
    """The `Files:` stanzas of a debian/copyright file, in file order."""
    stanzas = []
    for paragraph in parse_deb822(text):
        if "Files" not in paragraph:
            continue
        licence = paragraph.get("License", "").split("\n", 1)[0].strip()
        holders = paragraph.get("Copyright", "").splitlines()
        if len(" ".join(holders)) > 200:  # `Files: *` of a big project lists dozens
            holders = [holders[0], "and others"]
        holder = " ".join(" ".join(holders).split())
        stanzas.append(Stanza(tuple(paragraph["Files"].split()), licence, holder))
    return stanzas


def matching_stanzas(stanzas: Sequence[Stanza], paths: Iterable[str]) -> list[Stanza]:
    """Stanzas, in file order, with a pattern that matches any of `paths`.

    Debian's `*` also matches `/`, as fnmatch's does. Several paths let a caller try the names
    a file had in the source tree (a .jpg there may ship as .webp).
    """
    paths = list(paths)
    return [
        stanza
        for stanza in stanzas
        if any(fnmatch.fnmatchcase(path, pattern) for path in paths for pattern in stanza.patterns)
    ]


def licence_conflict(matches: Sequence[Stanza], paths: Iterable[str]) -> list[str]:
    """Licences of the file-specific stanzas that match, when they disagree.

    A folder-wide pattern such as `images/land/*` is a default that later stanzas refine; two
    patterns naming the file itself (`images/land/fields1*` and `images/land/*-sfiera*` both
    match `fields10-sfiera`) are a real ambiguity, which `governing_stanza` resolves.
    """
    paths = list(paths)
    specific = {
        stanza.licence
        for stanza in matches
        for pattern in stanza.patterns
        if PurePosixPath(pattern).name != "*"
        and any(fnmatch.fnmatchcase(path, pattern) for path in paths)
    }
    return sorted(specific) if len(specific) > 1 else []


def cuts_a_number(pattern: str, path: str) -> bool:
    """Whether a `*` of `pattern` starts or ends inside a run of digits of `path`.

    `fields1*` matches `fields10-sfiera.jpg` only by cutting 10 into 1|0: it was written for
    fields1.jpg, and names the other file by accident. `[...]`, which fnmatch reads as a
    character class and Debian as text, is read as text here; such a pattern counts as not
    cutting.
    """
    regex = "".join(
        "(.*)" if run[0] == "*" else "." * len(run) if run[0] == "?" else re.escape(run)
        for run in re.findall(r"\*+|\?+|[^*?]+", pattern)
    )
    match = re.fullmatch(regex, path, re.DOTALL)
    if match is None:
        return False
    for group in range(1, match.re.groups + 1):
        start, end = match.span(group)
        if start == end:
            continue
        for edge in (start, end):  # the literal character on one side, the wildcard's on the other
            if 0 < edge < len(path) and path[edge - 1].isdigit() and path[edge].isdigit():
                return True
    return False


def specificity(stanza: Stanza, paths: Iterable[str]) -> tuple[bool, int]:
    """How closely the stanza's best matching pattern names one of `paths`.

    First whether the pattern matches without cutting a number (see `cuts_a_number`), then how
    many literal (non-wildcard) characters it has. Literal characters alone do not settle
    Endless Sky's conflicts: `*-sfiera*` has as many as `fields1*`, and `mountain1*` more than
    `*-harro*`; the cut number is what shows the prefix was meant for another photo.
    """
    paths = list(paths)
    return max(
        (
            (
                not cuts_a_number(pattern, path),
                len(pattern) - pattern.count("*") - pattern.count("?"),
            )
            for pattern in stanza.patterns
            for path in paths
            if fnmatch.fnmatchcase(path, pattern)
        ),
        default=(False, 0),
    )


def governing_stanza(matches: Sequence[Stanza], paths: Iterable[str]) -> Stanza:
    """The stanza whose licence and copyright a file gets, from the stanzas that match it.

    Debian's rule is that the last matching stanza wins, and without a `licence_conflict` that
    is what this returns. With one, the most specific stanza wins (ties: the later one). This
    departs from Debian because of how Endless Sky's file is written: its late list of
    public-domain photos names them by prefix (`images/land/fields1*`, `mountain1*`), and those
    prefixes also catch contributors' photos named `fields10-sfiera`, `mountain17-harro`,
    which earlier stanzas license CC-BY-SA-4.0 by contributor (`images/land/*-sfiera*`). Last
    wins would make 16 such photos public domain and drop the attribution their licence
    requires: crediting a public-domain photo to its photographer does no harm, leaving out the
    credit a CC-BY-SA photo needs breaks its licence.
    """
    if not matches:
        return UNKNOWN
    paths = list(paths)
    if not licence_conflict(matches, paths):
        return matches[-1]
    ranked = [(specificity(stanza, paths), order) for order, stanza in enumerate(matches)]
    return matches[max(ranked)[1]]


def parse_readme(text: str) -> dict[str, dict[str, str]]:
    """Credits per file name from a gcompris resource README.

    These READMEs are stanzas of `Copyright:`, `License:`, `Source:`, `Comment:` lines followed
    by file names, either after `Files:` or bare; they describe the photos actually shipped,
    where debian/copyright sometimes still describes older ones.
    """
    credits: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        key = ""
        for line in block.splitlines():
            match = re.match(r"([A-Za-z][A-Za-z-]*):\s*(.*)$", line)
            if match:
                key = {"license": "licence", "comments": "comment"}.get(
                    match[1].lower(), match[1].lower()
                )
                if key == "files":
                    files += match[2].split()
                else:
                    fields[key] = match[2].strip()
            elif line[:1].isspace() and key and key != "files":
                fields[key] = (fields[key] + " " + line.strip()).strip()
            elif line.strip():
                files.append(line.strip())
        for name in files:
            credits[name] = fields
    return credits


def readme_credits(
    readmes: dict[PurePosixPath, dict[str, dict[str, str]]], path: PurePosixPath
) -> dict[str, str]:
    """The credits for `path` from the nearest README above it that names it.

    READMEs name files relative to their own folder (explore_monuments' lists
    `wonders/petra.webp`), so each folder up the tree is tried.
    """
    for folder in path.parents:
        credits = readmes.get(folder, {}).get(str(path.relative_to(folder)))
        if credits is not None:
            return credits
    return {}


def normalise_licence(name: str) -> str:
    """SPDX-like spelling as in debian/copyright: 'CC-BY-SA 4.0' -> 'CC-BY-SA-4.0'."""
    name = " ".join(name.split())
    if name.lower() in ("public domain", "public-domain"):
        return "public-domain"
    gpl = re.fullmatch(r"GPL\s*v?(\d)(\+?)", name, re.IGNORECASE)
    if gpl:
        return f"GPL-{gpl[1]}{gpl[2]}"
    return re.sub(r"\s+(?=\d)", "-", name)
