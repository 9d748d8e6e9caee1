"""ImageNet labels and their mapping to a small editorial vocabulary.

Why a mapping: editors search for "people", "vehicle", "food", not for "Egyptian cat"
or "consomme". Each of the 1,000 classes maps to zero or more editorial words by its
index range (the ImageNet class order groups animals, foods, landscapes) or by words
in its lemma; the raw top-k with scores is kept beside it, so nothing is lost.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

#: Index ranges of ImageNet-1k classes (inclusive).
_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "animal": ((0, 397),),
    "food": ((923, 969),),
    "nature": ((970, 980), (984, 998)),
}
#: Lemma words that put a class in an editorial group (matched against whole words).
_WORDS: dict[str, tuple[str, ...]] = {
    "people": (
        "jersey",
        "suit",
        "groom",
        "scuba diver",
        "ballplayer",
        "wig",
        "kimono",
        "abaya",
        "bikini",
        "swimming trunks",
        "miniskirt",
        "sweatshirt",
        "cardigan",
        "trench coat",
        "lab coat",
        "military uniform",
        "cowboy hat",
        "sombrero",
        "football helmet",
        "crash helmet",
        "bow tie",
        "windsor tie",
        "bonnet",
        "academic gown",
        "poncho",
        "pajama",
        "brassiere",
        "maillot",
        "fur coat",
        "stole",
        "apron",
        "bobsled",
    ),
    "vehicle": (
        "car",
        "cab",
        "truck",
        "bus",
        "train",
        "van",
        "jeep",
        "limousine",
        "minivan",
        "tractor",
        "trolleybus",
        "streetcar",
        "scooter",
        "moped",
        "motor",
        "bicycle",
        "tricycle",
        "unicycle",
        "ambulance",
        "fire engine",
        "police van",
        "garbage truck",
        "pickup",
        "trailer truck",
        "tow truck",
        "racer",
        "go-kart",
        "golfcart",
        "snowmobile",
        "forklift",
        "airliner",
        "airship",
        "warplane",
        "canoe",
        "speedboat",
        "lifeboat",
        "gondola",
        "catamaran",
        "trimaran",
        "container ship",
        "liner",
        "schooner",
        "yawl",
        "fireboat",
        "submarine",
        "aircraft carrier",
        "wagon",
        "locomotive",
        "space shuttle",
        "tank",
        "half track",
        "amphibian",
    ),
    "screen": (
        "monitor",
        "crt screen",
        "television",
        "laptop",
        "notebook",
        "desktop computer",
        "hand-held computer",
        "cellular telephone",
        "ipod",
        "web site",
        "home theater",
        "projector",
    ),
    "text": (
        "web site",
        "menu",
        "book jacket",
        "comic book",
        "crossword",
        "envelope",
        "street sign",
        "scoreboard",
        "packet",
        "carton",
        "binder",
        "library",
        "bookshop",
        "billboard",
        "slide rule",
    ),
    "city": (
        "streetcar",
        "street sign",
        "traffic light",
        "cab",
        "trolleybus",
        "barbershop",
        "bakery",
        "butcher shop",
        "toyshop",
        "cinema",
        "grocery store",
        "tobacco shop",
        "shoe shop",
        "bookshop",
        "confectionery",
        "palace",
        "church",
        "mosque",
        "bell cote",
        "triumphal arch",
        "suspension bridge",
        "steel arch bridge",
        "parking meter",
        "police van",
        "fire engine",
        "garbage truck",
        "monastery",
        "dome",
        "obelisk",
    ),
    "indoor": (
        "restaurant",
        "library",
        "home theater",
        "dining table",
        "wardrobe",
        "studio couch",
        "bookcase",
        "desk",
        "four-poster",
        "cradle",
        "crib",
        "china cabinet",
        "entertainment center",
        "file",
        "shoji",
        "window shade",
        "window screen",
        "refrigerator",
        "dishwasher",
        "microwave",
        "stove",
        "washbasin",
        "bathtub",
        "toilet seat",
        "shower curtain",
        "quilt",
        "pillow",
        "lampshade",
        "table lamp",
        "desktop computer",
        "monitor",
        "espresso",
        "cup",
        "coffee mug",
        "plate",
        "barbershop",
        "bakery",
        "grocery store",
        "tripod",
        "television",
        "laptop",
        "notebook",
        "piano",
        "grand piano",
        "upright",
    ),
    "outdoor": (
        "alp",
        "cliff",
        "coral reef",
        "geyser",
        "lakeside",
        "promontory",
        "sandbar",
        "seashore",
        "valley",
        "volcano",
        "park bench",
        "patio",
        "fountain",
        "breakwater",
        "dam",
        "pier",
        "boathouse",
        "barn",
        "greenhouse",
        "picket fence",
        "worm fence",
        "stone wall",
        "maze",
        "thatch",
        "yurt",
        "mobile home",
        "totem pole",
        "flagpole",
        "parachute",
        "kite",
        "missile",
        "projectile",
        "space shuttle",
        "drilling platform",
    ),
}
#: Landscape classes: a shot whose top tags are these is a wide shot even without faces.
LANDSCAPES = frozenset(
    ("alp", "cliff", "coral reef", "geyser", "lakeside", "promontory", "sandbar", "seashore", "valley", "volcano")
)


@cache
def labels() -> tuple[str, ...]:
    """The 1,000 ImageNet class names (first lemma), in class order."""
    text = resources.files("kinod.analyzers.visual").joinpath("data/imagenet_labels.txt").read_text("utf-8")
    rows = [line.split("\t", 1)[1] for line in text.splitlines() if line and not line.startswith("#")]
    if len(rows) != 1000:
        raise ValueError(f"kinod/analyzers/visual/data/imagenet_labels.txt: expected 1000 labels, found {len(rows)}")
    return tuple(r.split(",")[0].strip() for r in rows)


@cache
def _lemmas() -> tuple[tuple[str, ...], ...]:
    text = resources.files("kinod.analyzers.visual").joinpath("data/imagenet_labels.txt").read_text("utf-8")
    rows = [line.split("\t", 1)[1] for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(tuple(p.strip().lower() for p in r.split(",")) for r in rows)


@cache
def editorial_of(index: int) -> tuple[str, ...]:
    """Editorial words of one ImageNet class (may be empty)."""
    out: list[str] = [word for word, ranges in _RANGES.items() if any(lo <= index <= hi for lo, hi in ranges)]
    names = _lemmas()[index]
    for word, keys in _WORDS.items():
        if word not in out and any(re.search(rf"\b{re.escape(key)}\b", name) for key in keys for name in names):
            out.append(word)
    return tuple(out)
