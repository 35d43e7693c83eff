"""The predictor's memory in the database: `SegmentStat` rows in and out of a `TravelModel`.

`load_model()` builds a model from every row (or refreshes a model the process already has,
keeping what it knows about vehicles between pings); `save_model(model)` upserts the statistics
the model changed since it was last saved (its `dirty` keys) in one statement per batch;
`clear()` forgets everything learned (the operator's "start learning again", tests).

Several processes may track vehicles at once; each saves the statistics it changed, the last
write of a key wins. The statistics move slowly (exponential forgetting over many buses), so a
lost update costs one observation, never a wrong model.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .engine.predictor import TravelModel
from .models import SegmentStat

FIELDS = ("from_stop_id", "to_stop_id", "day_type", "band", "n", "mean_s", "var_s", "last_s")
UPDATED = ["n", "mean_s", "var_s", "last_s", "last_at", "updated_at"]
BATCH = 2000


def load_model(model: TravelModel | None = None) -> TravelModel:
    """A model holding every stored statistic; with `model`, its statistics are replaced by the
    stored ones (those it changed and has not saved yet are kept) and it is returned."""
    if model is None:
        model = TravelModel()
    keep = set(model.dirty)
    rows = SegmentStat.objects.values(*FIELDS, "last_at").iterator(chunk_size=5000)
    if keep:
        model.load_rows(
            r
            for r in rows
            if (r["from_stop_id"], r["to_stop_id"], r["day_type"], r["band"]) not in keep
        )
    else:
        model.load_rows(rows)
    return model


def save_model(model: TravelModel) -> int:
    """Upsert the statistics the model changed since it was last saved; returns how many."""
    keys = list(model.dirty)
    if not keys:
        return 0
    rows = model.to_rows(keys)
    now = timezone.now()
    objs = [SegmentStat(**row, updated_at=now) for row in rows]
    with transaction.atomic():
        for start in range(0, len(objs), BATCH):
            SegmentStat.objects.bulk_create(
                objs[start : start + BATCH],
                update_conflicts=True,
                unique_fields=["from_stop_id", "to_stop_id", "day_type", "band"],
                update_fields=UPDATED,
            )
    model.dirty.difference_update(keys)
    return len(objs)


def clear() -> int:
    """Forget every learned statistic; returns how many rows were deleted."""
    deleted, _ = SegmentStat.objects.all().delete()
    return deleted
