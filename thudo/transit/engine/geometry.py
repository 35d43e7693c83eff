"""Polylines in metres: a shape's points projected on a local plane (equirectangular around the
shape's first point — within a city the error is far below GPS noise), with the distance along
the line of every vertex, projection of a point onto the line within a window of distances (so
that loops and stops served twice match the right pass) and the point at a given distance."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from .types import EARTH_R


class Polyline:
    __slots__ = ("cum", "kx", "ky", "lat0", "length", "lon0", "xs", "ys")

    def __init__(self, latlons: Sequence[Sequence[float]]) -> None:
        if len(latlons) < 2:
            raise ValueError("a polyline needs at least two points")
        self.lat0 = float(latlons[0][0])
        self.lon0 = float(latlons[0][1])
        self.ky = math.pi * EARTH_R / 180.0
        self.kx = self.ky * math.cos(math.radians(self.lat0))
        self.xs = [(p[1] - self.lon0) * self.kx for p in latlons]
        self.ys = [(p[0] - self.lat0) * self.ky for p in latlons]
        cum = [0.0]
        for i in range(1, len(self.xs)):
            cum.append(
                cum[-1] + math.hypot(self.xs[i] - self.xs[i - 1], self.ys[i] - self.ys[i - 1])
            )
        self.cum = cum
        self.length = cum[-1]

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / self.ky, self.lon0 + x / self.kx

    def project(
        self, lat: float, lon: float, lo_m: float = 0.0, hi_m: float | None = None
    ) -> tuple[float, float]:
        """(distance along the line, distance from the line) of the closest point of the part
        of the line between lo_m and hi_m (the whole line by default)."""
        px, py = self.to_xy(lat, lon)
        hi = self.length if hi_m is None else min(hi_m, self.length)
        lo = max(0.0, lo_m)
        if lo > hi:
            lo = hi
        # the segment holding `lo` (the last one when `lo` is the line's end)
        i0 = min(len(self.cum) - 2, max(0, bisect.bisect_right(self.cum, lo) - 1))
        i1 = min(len(self.cum) - 1, bisect.bisect_left(self.cum, hi))
        best_d2 = math.inf
        best_along = lo
        xs, ys, cum = self.xs, self.ys, self.cum
        for i in range(i0, max(i0 + 1, i1)):
            if i + 1 >= len(xs):
                break
            ax, ay, bx, by = xs[i], ys[i], xs[i + 1], ys[i + 1]
            dx, dy = bx - ax, by - ay
            seg2 = dx * dx + dy * dy
            t = 0.0 if seg2 == 0 else ((px - ax) * dx + (py - ay) * dy) / seg2
            # clamp to the segment and to the window
            t = min(1.0, max(0.0, t))
            along = cum[i] + t * (cum[i + 1] - cum[i])
            if along < lo or along > hi:
                along = min(hi, max(lo, along))
                seg_len = cum[i + 1] - cum[i]
                t = 0.0 if seg_len == 0 else (along - cum[i]) / seg_len
            qx, qy = ax + t * dx, ay + t * dy
            d2 = (px - qx) ** 2 + (py - qy) ** 2
            if d2 < best_d2:
                best_d2, best_along = d2, along
        return best_along, math.sqrt(best_d2)

    def point_at(self, dist_m: float) -> tuple[float, float, float]:
        """(lat, lon, bearing in degrees) of the point `dist_m` along the line (clamped)."""
        d = min(max(dist_m, 0.0), self.length)
        i = min(len(self.cum) - 2, max(0, bisect.bisect_right(self.cum, d) - 1))
        seg = self.cum[i + 1] - self.cum[i]
        t = 0.0 if seg == 0 else (d - self.cum[i]) / seg
        x = self.xs[i] + t * (self.xs[i + 1] - self.xs[i])
        y = self.ys[i] + t * (self.ys[i + 1] - self.ys[i])
        bearing = math.degrees(math.atan2(self.xs[i + 1] - self.xs[i], self.ys[i + 1] - self.ys[i]))
        lat, lon = self.to_latlon(x, y)
        return lat, lon, bearing % 360.0
