"""training_data.licences: debian/copyright stanzas, bundle READMEs, licence names."""

from __future__ import annotations

from pathlib import PurePosixPath

from training_data.licences import (
    Stanza,
    cuts_a_number,
    governing_stanza,
    licence_conflict,
    matching_stanzas,
    normalise_licence,
    parse_copyright,
    parse_readme,
    readme_credits,
)

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example

Files: *
Copyright: Someone
License: GPL-3+

Files: images/*
Copyright: Someone
License: CC-BY-SA-4.0

Files: images/land/*
Copyright: Various
License: public-domain
 Donated photographs.

Files: images/land/bwerner*
Copyright: Berthold Werner
License: CC-BY-SA-3.0

Files: images/land/*-sfiera*
Copyright: Chris Pickel
License: CC-BY-SA-4.0

Files:
 images/land/beach0*
 images/land/fields1*
Copyright: Various
License: public-domain
 From unsplash.com.

License: public-domain
 Paragraphs without Files are licence texts and are ignored.
"""


def licence(path: str) -> str:
    return matching_stanzas(parse_copyright(COPYRIGHT), [path])[-1].licence


def test_copyright_stanzas_later_ones_win():
    stanzas = parse_copyright(COPYRIGHT)
    assert len(stanzas) == 6
    assert stanzas[-1].patterns == ("images/land/beach0*", "images/land/fields1*")
    assert licence("src/main.cpp") == "GPL-3+"
    assert licence("images/ship/a.png") == "CC-BY-SA-4.0"
    assert licence("images/land/sky3.jpg") == "public-domain"
    assert licence("images/land/bwerner4.jpg") == "CC-BY-SA-3.0"
    assert licence("images/land/beach7-sfiera.jpg") == "CC-BY-SA-4.0"
    assert licence("images/land/fields1.jpg") == "public-domain"


def test_copyright_conflicts_between_file_specific_stanzas_are_reported():
    stanzas = parse_copyright(COPYRIGHT)
    paths = ["images/land/fields10-sfiera.jpg"]
    matches = matching_stanzas(stanzas, paths)
    assert matches[-1].licence == "public-domain"  # Debian's rule: the last stanza wins
    assert licence_conflict(matches, paths) == ["CC-BY-SA-4.0", "public-domain"]
    bwerner = ["images/land/bwerner0.jpg"]  # refines images/land/*: no conflict
    assert licence_conflict(matching_stanzas(stanzas, bwerner), bwerner) == []


def test_the_most_specific_stanza_settles_a_conflict():
    stanzas = parse_copyright(COPYRIGHT)
    paths = ["images/land/fields10-sfiera.jpg", "images/land/fields10-sfiera@2x.jpg"]
    chosen = governing_stanza(matching_stanzas(stanzas, paths), paths)
    # `*-sfiera*` and `fields1*` have as many literal characters, but `fields1*` cuts 10 in two
    assert (chosen.licence, chosen.copyright) == ("CC-BY-SA-4.0", "Chris Pickel")


def land(pattern: str, licence: str) -> Stanza:
    return Stanza((f"images/land/{pattern}",), licence, pattern)


def governing_licence(stanzas: list[Stanza], name: str) -> str:
    paths = [f"images/land/{name}"]
    return governing_stanza(matching_stanzas(stanzas, paths), paths).licence


def test_specificity_counts_literal_characters_and_shuns_cut_numbers():
    default = land("*", "public-domain")
    harro, sfiera = land("*-harro*", "CC-BY-SA-4.0"), land("*-sfiera*", "CC-BY-SA-4.0")
    unsplash = Stanza(("images/land/mountain1*", "images/land/snow10*"), "public-domain", "Various")
    stanzas = [default, harro, sfiera, unsplash]
    # more literal characters than `*-harro*`, but only by cutting 17 into 1|7
    assert governing_licence(stanzas, "mountain17-harro.jpg") == "CC-BY-SA-4.0"
    # `snow10*` cuts nothing and has one literal character fewer than `*-sfiera*`
    assert governing_licence(stanzas, "snow10-sfiera.jpg") == "CC-BY-SA-4.0"
    assert governing_licence(stanzas, "mountain1.jpg") == "public-domain"
    assert governing_licence(stanzas, "sky4-harro.jpg") == "CC-BY-SA-4.0"
    assert governing_licence([], "sky4.jpg") == "unknown"


def test_equally_specific_stanzas_leave_it_to_the_later_one():
    contributor, prefix = land("*-abc*", "CC-BY-4.0"), land("sea1*", "public-domain")
    assert governing_licence([contributor, prefix], "sea1-abc.jpg") == "public-domain"
    assert governing_licence([prefix, contributor], "sea1-abc.jpg") == "CC-BY-4.0"


def test_without_a_conflict_the_last_stanza_wins_as_in_debian():
    nasa = Stanza(("images/land/space*",), "public-domain", "NASA")
    unsplash = Stanza(("images/land/space2*",), "public-domain", "Various")
    paths = ["images/land/space2.jpg"]
    matches = matching_stanzas([unsplash, nasa], paths)
    assert licence_conflict(matches, paths) == []
    assert governing_stanza(matches, paths).copyright == "NASA"


def test_cut_numbers():
    assert cuts_a_number("images/land/fields1*", "images/land/fields10-sfiera.jpg")
    assert cuts_a_number("images/land/*0.jpg", "images/land/snow10.jpg")
    assert not cuts_a_number("images/land/fields1*", "images/land/fields1.jpg")
    assert not cuts_a_number("images/land/fields1*", "images/land/fields1@2x.jpg")
    assert not cuts_a_number("images/land/*-sfiera*", "images/land/fields10-sfiera.jpg")
    assert not cuts_a_number("images/land/bwerner*", "images/land/bwerner4.jpg")
    assert not cuts_a_number("images/land/sky?.jpg", "images/land/sky4.jpg")


def test_gcompris_readme_credits():
    readme = (
        "Copyright: Timothee Giet, 2018\nLicense: CC-BY-SA 4.0\nFiles:\nkey.svg\nmap.svg\n\n"
        "Copyright: Daniel Schwen\nLicense: CC-BY-SA 4.0\n"
        "Source: https://commons.wikimedia.org/wiki/File:Chichen_Itza_3.jpg\n"
        "Files:\nwonders/chichenItza.webp\n\n"
        "Copyright: 2008 Bruno Coudoin\nLicense: Public domain\nGogh4_0.webp\n"
        "Gogh4_background.webp\nComment: based on an original painting by Van Gogh.\n"
    )
    credits = parse_readme(readme)
    assert credits["wonders/chichenItza.webp"]["source"].endswith("Chichen_Itza_3.jpg")
    assert credits["key.svg"]["licence"] == "CC-BY-SA 4.0"
    assert "painting" in credits["Gogh4_background.webp"]["comment"]

    folder = PurePosixPath("gcompris/src/activities/explore_monuments/resource")
    readmes = {folder: credits}
    found = readme_credits(readmes, folder / "wonders" / "chichenItza.webp")
    assert found["copyright"] == "Daniel Schwen"
    assert readme_credits(readmes, folder / "wonders" / "petra.webp") == {}


def test_licence_names_are_normalised():
    assert normalise_licence("CC-BY-SA 4.0") == "CC-BY-SA-4.0"
    assert normalise_licence("CC-BY 2.0") == "CC-BY-2.0"
    assert normalise_licence("Public Domain") == "public-domain"
    assert normalise_licence("GPLv2+") == "GPL-2+"
    assert normalise_licence("CC0-1.0") == "CC0-1.0"
