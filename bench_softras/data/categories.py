"""The 13 ShapeNet categories of the benchmark (N3MR / SoftRas): class ids, names, and
the base colour each synthetic category is shaded with.

The synthetic categories (:mod:`bench_softras.data.generators`) reuse these ShapeNet
class ids, so a synthetic data set and the real benchmark files share one loader.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench_softras.errors import UnknownNameError

#: ShapeNet synset id -> name, as in the official SoftRas ``datasets.py``.
CATEGORIES: dict[str, str] = {
    "02691156": "airplane",
    "02828884": "bench",
    "02933112": "cabinet",
    "02958343": "car",
    "03001627": "chair",
    "03211117": "display",
    "03636649": "lamp",
    "03691459": "loudspeaker",
    "04090263": "rifle",
    "04256520": "sofa",
    "04379243": "table",
    "04401088": "telephone",
    "04530566": "watercraft",
}

#: The class ids in the benchmark's order (sorted, as in the paper's tables).
CLASS_IDS: tuple[str, ...] = tuple(CATEGORIES)

#: Base RGB colour in [0, 1] per category, used to shade synthetic renderings.
BASE_COLORS: dict[str, tuple[float, float, float]] = {
    "02691156": (0.80, 0.82, 0.86),  # airplane: light grey
    "02828884": (0.60, 0.42, 0.25),  # bench: wood
    "02933112": (0.72, 0.55, 0.36),  # cabinet: light wood
    "02958343": (0.78, 0.16, 0.14),  # car: red
    "03001627": (0.30, 0.45, 0.70),  # chair: blue
    "03211117": (0.25, 0.25, 0.28),  # display: dark grey
    "03636649": (0.90, 0.78, 0.40),  # lamp: brass
    "03691459": (0.35, 0.30, 0.28),  # loudspeaker: dark brown
    "04090263": (0.40, 0.38, 0.32),  # rifle: gunmetal/olive
    "04256520": (0.55, 0.62, 0.45),  # sofa: sage
    "04379243": (0.65, 0.48, 0.30),  # table: wood
    "04401088": (0.20, 0.22, 0.25),  # telephone: black
    "04530566": (0.85, 0.85, 0.80),  # watercraft: white
}

#: Colour for class ids not listed above (e.g. user meshes).
DEFAULT_COLOR: tuple[float, float, float] = (0.70, 0.70, 0.70)


def category_name(class_id: str) -> str:
    """Human-readable name of ``class_id`` (the id itself when it is not a ShapeNet id)."""
    return CATEGORIES.get(class_id, class_id)


def class_id_of(name_or_id: str, extra_ids: Iterable[str] = ()) -> str:
    """The ShapeNet class id for a category name ("chair") or id ("03001627");
    ``extra_ids``: further class ids accepted as they are (e.g. those a data directory
    holds, :func:`bench_softras.data.find_class_ids`).  ``KeyError`` (a
    :class:`~bench_softras.errors.UnknownNameError`) lists the known ones."""
    extra = tuple(extra_ids)
    if name_or_id in CATEGORIES or name_or_id in extra:
        return name_or_id
    for cid, name in CATEGORIES.items():
        if name == str(name_or_id).lower():
            return cid
    found = f"; in the data directory: {', '.join(extra)}" if extra else ""
    raise UnknownNameError(
        f"unknown category {name_or_id!r}; known: "
        + ", ".join(f"{cid} ({n})" for cid, n in CATEGORIES.items()) + found
    )


def base_color(class_id: str) -> tuple[float, float, float]:
    """Base RGB colour in [0, 1] of a category (a neutral grey for unknown ids)."""
    return BASE_COLORS.get(class_id, DEFAULT_COLOR)
