"""A generated library with a labelled query set, for ``benchmarks/search.py``.

Every clip holds filler: everyday talk (transcript segments with word times), shot
descriptions, tags, a sign or two read on screen, one or two people. A few clips per
*story* also hold that story: a sentence said, a shot described, a sign on screen at the
moment the sentence is said, and a named person on screen. Each story has three queries
whose right answers are exactly its clips:

* **keyword**: two words of the sentence said;
* **moment**: a word of the sign and a word said, found only across the two entries;
* **semantic**: the story told in other words (no content word in common with it).

Texts come from banks (filler made from templates, the stories written out), so each
distinct text is embedded once with the real MiniLM and every entry gets the vector of
its own text; 10,000 clips need about 2,500 embeddings, not 200,000. ``NEGATIVE`` holds
queries no clip answers, to calibrate the semantic cut-off against false hits.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

#: (said, shot description, sign, semantic query, keyword query, moment query)
STORIES: list[tuple[str, str, str, str, str, str]] = [
    ("the heron nests above the bakery every spring", "a grey bird stands on a shop roof", "BLUE HERON BAKERY",
     "a wading bird living over a place that sells bread", "heron nests", "blue spring"),
    ("our goalkeeper saved the penalty in extra time", "football players celebrate on a pitch", "STADIUM GATE 4",
     "a soccer match won with a late save", "goalkeeper penalty", "stadium goalkeeper"),
    ("the senator promised lower taxes for farmers", "a politician speaks at a podium with flags", "TOWN HALL",
     "a politician giving a speech about the economy", "senator taxes", "hall senator"),
    ("the volcano erupted and lava reached the village", "smoke rises from a mountain at dusk", "EVACUATION ROUTE",
     "molten rock flowing from an exploding mountain", "volcano lava", "evacuation volcano"),
    ("grandma kneads the dough for the dumplings", "an old woman cooks in a small kitchen", "MAMA'S KITCHEN",
     "an elderly lady preparing food by hand", "kneads dumplings", "mama dough"),
    ("the violinist tuned her strings before the concert", "a musician holds a violin backstage", "PHILHARMONIC",
     "a string player getting ready to perform", "violinist strings", "philharmonic violinist"),
    ("the surgeon washed her hands before the operation", "a doctor in a mask in a hospital corridor",
     "THEATRE 3", "a medical specialist preparing to operate on a patient", "surgeon operation", "theatre surgeon"),
    ("the astronaut floated past the window of the station", "earth seen from orbit through a porthole",
     "ISS MODULE", "a person weightless in space looking out", "astronaut floated", "module astronaut"),
    ("we hiked to the glacier before sunrise", "two people walk on ice between mountains", "TRAILHEAD",
     "climbing to a frozen river of ice at dawn", "hiked glacier", "trailhead glacier"),
    ("the bakery sold out of croissants by nine", "pastries on a counter in a cafe", "CROISSANTS 2 EUR",
     "a shop running out of french pastries in the morning", "croissants sold", "eur croissants"),
    ("the firefighters rescued a kitten from the roof", "a ladder truck outside a house", "FIRE STATION 12",
     "emergency crew saving a small cat", "firefighters kitten", "station kitten"),
    ("the chess champion resigned after forty moves", "two players at a board in a quiet hall",
     "WORLD CHAMPIONSHIP", "a board game master conceding a long match", "chess resigned", "championship resigned"),
    ("the fishermen hauled in nets full of mackerel", "a fishing boat at sea in grey weather", "HARBOUR MASTER",
     "sailors pulling a big catch of fish onto a boat", "fishermen mackerel", "harbour mackerel"),
    ("the bride and groom danced under the lanterns", "a couple dances at a night party", "JUST MARRIED",
     "newlyweds at their wedding reception", "bride lanterns", "married lanterns"),
    ("the protesters marched to parliament with banners", "a crowd with signs fills a street",
     "CLIMATE JUSTICE NOW", "a demonstration walking towards the government", "protesters parliament",
     "climate protesters"),
    ("the pilot announced turbulence over the alps", "an airplane cabin with passengers", "FASTEN SEATBELT",
     "a bumpy flight above mountains", "pilot turbulence", "seatbelt turbulence"),
    ("the beekeeper lifted a frame covered in honey", "a person in a veil by wooden hives", "RAW HONEY",
     "someone harvesting sweet stuff from insects", "beekeeper frame", "raw beekeeper"),
    ("the train to vienna is delayed by forty minutes", "a station platform with waiting travellers",
     "PLATFORM 9", "a railway journey running late", "vienna delayed", "platform vienna"),
    ("the kids built a snowman with a carrot nose", "children play in a white garden", "SCHOOL CLOSED",
     "young ones making a figure out of winter flakes", "snowman carrot", "school snowman"),
    ("the mechanic replaced the brakes on the truck", "a man under a lorry in a workshop", "GARAGE OPEN 24H",
     "repairing a heavy vehicle's stopping system", "mechanic brakes", "garage brakes"),
    ("the architect unveiled a model of the new museum", "a white scale model on a table", "CITY PLANNING",
     "a designer presenting plans for an art gallery building", "architect museum", "planning architect"),
    ("the surfers waited for the big wave at dawn", "boards in the water at sunrise", "SURF SCHOOL",
     "people on boards hoping for a large swell in the morning", "surfers wave", "school surfers"),
    ("the judge sentenced him to five years in prison", "a courtroom with wooden benches", "COURT ROOM 2",
     "a criminal receiving a long jail term", "judge sentenced", "court sentenced"),
    ("the puppy chewed the postman's shoe", "a small dog on a doormat", "BEWARE OF DOG",
     "a young pet biting the mail carrier's footwear", "puppy chewed", "beware puppy"),
    ("the orchestra rehearsed the symphony until midnight", "musicians in an empty concert hall",
     "REHEARSAL IN PROGRESS", "classical musicians practising late into the night", "orchestra symphony",
     "rehearsal orchestra"),
    ("the gardener pruned the roses along the fence", "a woman with shears in a flower bed", "ROSE GARDEN",
     "cutting back flowers in a yard", "gardener pruned", "rose gardener"),
    ("the hackers stole passwords from the bank", "a dark room lit by computer screens", "SECURITY ALERT",
     "criminals breaking into a financial company's computers", "hackers passwords", "alert hackers"),
    ("the marathon runners crossed the bridge at noon", "runners with numbers on a long bridge", "FINISH 5 KM",
     "athletes in a long distance race going over a river", "marathon runners", "finish marathon"),
    ("the election results will be announced tonight", "a newsroom with screens and maps", "BREAKING NEWS",
     "vote counts to be revealed this evening", "election results", "breaking election"),
    ("the elephants crossed the river at sunset", "large grey animals wade through water", "NATIONAL PARK",
     "huge african animals fording a stream in the evening", "elephants river", "park elephants"),
    ("the baker burned the first batch of bread", "smoke from an oven in a small shop", "FRESH BREAD DAILY",
     "a loaf charred in the oven", "burned batch", "fresh burned"),
    ("the ferry to the island leaves every hour", "a boat at a pier with cars boarding", "FERRY TERMINAL",
     "boats crossing to an isle on a schedule", "ferry island", "terminal island"),
    ("the scientist measured the ice core samples", "a lab with frozen cylinders", "POLAR RESEARCH",
     "a researcher studying frozen samples drilled from a glacier", "scientist samples", "polar scientist"),
    ("the waiter spilled soup on the critic", "a restaurant table with a white cloth", "CHEZ MARCEL",
     "a server making a mess on a food reviewer", "waiter spilled", "marcel spilled"),
    ("the cyclists climbed the mountain pass in the rain", "bikes on a wet steep road", "COL DU GALIBIER",
     "bike riders going uphill in bad weather", "cyclists climbed", "galibier cyclists"),
    ("the museum guard caught the thief near the statue", "a marble figure in a gallery", "NO FLASH",
     "a security officer stopping a robber among sculptures", "guard thief", "flash thief"),
    ("the nurse checked the baby's temperature", "a newborn in a hospital crib", "MATERNITY WARD",
     "a carer looking after an infant with a fever", "nurse temperature", "maternity nurse"),
    ("the drummer broke a stick during the solo", "a rock band on a lit stage", "SOLD OUT TONIGHT",
     "a percussion player snapping his gear mid performance", "drummer solo", "sold drummer"),
    ("the farmer harvested the wheat before the storm", "a combine in a golden field", "FARM SHOP",
     "bringing in the grain crop ahead of bad weather", "farmer wheat", "shop wheat"),
    ("the detective found fingerprints on the glass", "a man with gloves lifts a cup", "CRIME SCENE",
     "an investigator discovering evidence on a drinking vessel", "detective fingerprints", "crime fingerprints"),
    ("the painter mixed ultramarine for the sky", "brushes and a canvas in a studio", "ART SUPPLIES",
     "an artist preparing a deep blue colour", "painter ultramarine", "supplies ultramarine"),
    ("the students protested the tuition increase", "young people with placards on a campus", "UNIVERSITY",
     "pupils demonstrating against higher fees for college", "tuition increase", "university tuition"),
    ("the submarine surfaced near the arctic ice", "a dark hull breaks through white ice", "NAVY",
     "an underwater vessel coming up in the frozen north", "submarine surfaced", "navy submarine"),
    ("the tailor measured the groom for his suit", "a man stands while fabric is pinned", "BESPOKE TAILORING",
     "a clothes maker fitting a husband-to-be for formal wear", "tailor groom", "bespoke tailor"),
    # Said, not described: what an editor remembers is the situation, not the words.
    ("four score and seven years ago our fathers brought forth a new nation", "a man in a black coat at a lectern",
     "GETTYSBURG 1863", "a president addressing a crowd", "score fathers", "gettysburg fathers"),
    ("ladies and gentlemen please welcome to the stage the one and only", "spotlights sweep over an audience",
     "LIVE TONIGHT", "a host introducing a performer at a show", "ladies welcome", "live welcome"),
    ("ten nine eight seven ignition and liftoff", "a tall white cylinder on a pad", "LAUNCH COMPLEX 39",
     "a rocket blasting off into space", "ignition liftoff", "launch ignition"),
    ("objection your honour the witness is being led", "a man in a suit stands by a wooden rail",
     "COUNTY COURT", "a lawyer arguing during a trial", "objection witness", "county objection"),
    ("what a strike from thirty yards into the top corner", "fans jump with scarves in the stands",
     "HOME 2 AWAY 1", "a commentator excited about a soccer goal", "strike corner", "home strike"),
    ("the lighthouse keeper lit the lamp at dusk", "a tower on a rocky coast at twilight", "KEEP OUT",
     "someone switching on a coastal beacon in the evening", "lighthouse lamp", "keep lighthouse"),
]

#: Queries no clip answers (nothing in the library is about these).
NEGATIVE = [
    "a penguin colony on an iceberg", "dinosaur fossils in a desert", "a tornado destroying a barn",
    "knitting a woollen scarf", "a magician pulling a rabbit from a hat", "scuba diving over a coral reef",
    "a hot air balloon festival", "ancient pyramids in the sand", "a sumo wrestling bout",
    "a robot vacuum cleaning the floor",
]

_WHO = ["I", "we", "they", "my brother", "the manager", "our neighbour", "the client", "everyone", "she", "he"]
_DID = ["think", "said", "heard", "guess", "remember", "told me", "agreed", "wondered if", "hope", "know"]
_WHAT = ["the meeting moved to tuesday", "the parking is full again", "lunch was late today",
         "the printer is broken", "the coffee machine works now", "the report needs another draft",
         "traffic was bad this morning", "the light is better after four", "we should try another take",
         "the battery is nearly empty", "the room is too noisy", "it might rain later",
         "the microphone picked up wind", "we need more time", "the cable is too short",
         "that was a good one", "let's go again from the top", "the sound was fine", "my phone is dead",
         "the van is outside"]
_DESC = ["a person walks along a {place}", "a close-up of hands on a {thing}", "a wide shot of a {place}",
         "two people talk near a {thing}", "a slow pan across a {place}", "a car parks beside a {thing}"]
_PLACE = ["street", "corridor", "parking lot", "park", "office", "square", "hallway", "staircase", "lobby", "yard"]
_THING = ["table", "door", "window", "desk", "bench", "wall", "laptop", "fence", "counter", "lamp post"]
_SIGNS = ["EXIT", "NO PARKING", "OPEN", "SALE", "PUSH", "LOBBY", "STAFF ONLY", "WET FLOOR", "ENTRANCE", "TOILETS"]
TAGS = ["street", "office", "indoor", "outdoor", "people", "car", "night", "day", "crowd", "interview"]
NAMES = ["Ann Lee", "Omar Haddad", "Mia Chen", "Lars Berg", "Zoe Adams", "Barack Obama", "Ines Duarte",
         "Kofi Mensah"]
#: Clips per story.
PER_STORY = 5


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    #: Source paths of the clips that answer it (empty: none should).
    relevant: frozenset[str]


def filler_bank(rng: random.Random, n: int = 1500) -> list[str]:
    combos = list(itertools.product(_WHO, _DID, _WHAT))
    rng.shuffle(combos)
    return [f"{a} {b} {c}" for a, b, c in combos[:n]]


def description_bank() -> list[str]:
    return [d.format(place=p, thing=t) for d in _DESC for p in _PLACE for t in _THING]


def _words(text: str, start: float) -> tuple[list[dict[str, Any]], float]:
    out, t = [], start
    for w in text.split():
        out.append({"word": w, "start_s": round(t, 2), "end_s": round(t + 0.3, 2)})
        t += 0.35
    return out, t


def _segment(text: str, t: float, speaker: str) -> tuple[dict[str, Any], float]:
    words, end = _words(text, t)
    return {"start_s": words[0]["start_s"], "end_s": words[-1]["end_s"], "text": text, "speaker": speaker,
            "words": words}, end


def clip_path(i: int) -> str:
    return f"/footage/CARD{i // 100:03d}/C{i:05d}.mov"


def make_sidecar(i: int, story: int | None, banks: tuple[list[str], list[str]],  # long: one clip's every analysis
                 rng: random.Random) -> dict[str, Any]:
    fillers, descriptions = banks
    rate = 25
    t, segments, ocr, faces = 0.0, [], [], []
    story_at = rng.randrange(3, 9) if story is not None else -1
    for k in range(12):
        speaker = f"Speaker {rng.randint(1, 2)}"
        if k == story_at:
            said, _, sign, *_ = STORIES[story]
            seg, end = _segment(said, t, speaker)
            ocr.append({"text": sign, "start_s": seg["start_s"], "end_s": seg["end_s"] + 1.0,
                        "box": [40, 300, 300, 30]})
            faces.append({"track": 9, "person": "person-99", "person_name": NAMES[story % len(NAMES)],
                          "start_s": seg["start_s"], "end_s": seg["end_s"]})
        else:
            seg, end = _segment(rng.choice(fillers), t, speaker)
        segments.append(seg)
        t = end + 1.0
    duration = t
    shots = []
    for s in range(4):
        a, b = duration * s / 4, duration * (s + 1) / 4
        desc = STORIES[story][1] if story is not None and s == 1 else rng.choice(descriptions)
        shots.append({"start_s": a, "end_s": b, "start_frame": int(a * rate), "end_frame": int(b * rate),
                      "tags": [{"label": x, "score": 0.8} for x in rng.sample(TAGS, 3)], "description": desc})
    for k in range(2):
        ocr.append({"text": rng.choice(_SIGNS), "start_s": float(k * 20), "end_s": float(k * 20 + 2),
                    "box": [10, 10, 100, 30]})
    for p in range(rng.randint(1, 2)):
        faces.append({"track": p, "person": f"person-{rng.randint(1, 40)}", "person_name": rng.choice(NAMES),
                      "start_s": 1.0 + p, "end_s": 9.0 + p})
    return {
        "schema": "kinod.clip", "schema_version": "1.0", "generated_at": f"2026-{1 + i % 12:02d}-01T00:00:00+00:00",
        "source": {"path": clip_path(i), "name": f"C{i:05d}.mov", "fingerprint": f"fp{i}",
                   "card": f"CARD{i // 100:03d}"},
        "probe": {"duration_s": duration, "camera_make": "Sony", "camera_model": rng.choice(["FX6", "FX3", "A7S3"]),
                  "width": 3840, "height": 2160, "codec": "h264"},
        "timeline": {"rate": "25", "start_tc_frames": 90000, "drop_frame": False},
        "analyses": {"speech": {"items": segments}, "visual": {"items": shots}, "ocr": {"items": ocr},
                     "faces": {"items": faces},
                     "categories": {"summary": {"top": [{"path": ["News", "Interview"], "score": 0.7}]}}},
        "markers": [], "errors": [],
    }


def story_clips(n_clips: int, rng: random.Random) -> dict[int, int]:
    """Clip index → story, PER_STORY clips per story, spread over the library."""
    picks = rng.sample(range(n_clips), min(n_clips, PER_STORY * len(STORIES)))
    return {clip: k % len(STORIES) for k, clip in enumerate(picks)}


def labelled_queries(stories: dict[int, int]) -> list[Query]:
    answers: dict[int, set[str]] = {}
    for clip, story in stories.items():
        answers.setdefault(story, set()).add(clip_path(clip))
    out: list[Query] = []
    for s, (_, _, _, semantic, keyword, moment) in enumerate(STORIES):
        rel = frozenset(answers.get(s, set()))
        out += [Query("keyword", keyword, rel), Query("moment", moment, rel), Query("semantic", semantic, rel)]
    out += [Query("semantic", q, frozenset()) for q in NEGATIVE]
    return out
