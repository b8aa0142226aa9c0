"""Draw a `Study` as an 8-bit PA chest radiograph (radiographic convention: the patient's right is on image left).

The film is built as a density map: soft tissue everywhere in the body, air in the lungs, bone (ribs, clavicles,
spine) added on top. Disease is drawn as "fill" F of lung air (consolidation, nodules, effusion ...), so dense
consolidation reaches soft-tissue density and the silhouette sign (a lost heart border or diaphragm outline)
appears by itself. Everything is vectorised over the pixel grid; small objects are stamped in local windows.
Geometry is in body units: x in about [-0.9, 0.9], y from about -0.85 (lung apices) to 0.45 (diaphragm), y down.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from .geometry import (
    SIDE_SIGN,
    ZONE_RANGES,
    Frame,
    Lung,
    angular_profile,
    band,
    expit,
    lobe_mask,
    radial_lines,
    side_signs,
    smooth_noise,
    stamp_disk,
    stamp_segment,
    zone_mask,
)
from .records import Finding, Study


class Painter:
    """Accumulates fill (F), additive density (extra) and geometry for one study."""

    def __init__(self, study: Study, size: int):
        self.study, self.size = study, size
        self.f = Frame(size, study)
        self.rng = np.random.default_rng(study.seed)
        a, t = study.anatomy, study.technique
        volume_loss = {SIDE_SIGN[x.side] for x in study.findings if x.kind == "fibrosis" and x.flag}
        self.lungs = {}
        for s in (-1.0, 1.0):
            base = a.dome_right if s < 0 else a.dome_left
            apex = a.apex + (0.04 if s in volume_loss else 0.0)
            base = apex + (base - apex) * t.inspiration
            self.lungs[s] = Lung(
                s=s,
                apex=apex,
                base=base,
                mx=t.twist,
                mediastinum=a.mediastinum,
                dome_h=a.dome_h,
                hilum_v=(0.5 if s < 0 else 0.46) - (0.09 if s in volume_loss else 0),
            )
        self.trachea_shift = 0.035 * sum(volume_loss)
        self.masks = {s: lung.mask(self.f) for s, lung in self.lungs.items()}
        shape = (size, size)
        self.F = np.zeros(shape, np.float32)  # fraction of lung air replaced by tissue/fluid
        self.extra = np.zeros(shape, np.float32)  # additive density (bone, metal, calcification)
        self.dark = np.zeros(shape, np.float32)  # extra air (trachea, gastric bubble, cavities)
        self._cavity: tuple | None = None

    # --- normal anatomy -------------------------------------------------------------------------------------
    def anatomy(self) -> np.ndarray:
        """Soft-tissue density of the normal chest; fills self.F (heart, vessels), self.extra (bone), self.dark."""
        density = self._body_and_heart()
        self._vessels()
        self.extra += self._bones()
        self._airways()
        return density

    def _body_and_heart(self) -> np.ndarray:
        f, a = self.f, self.study.anatomy
        X, Y, e = f.X, f.Y, f.px
        lung_r, lung_l = self.lungs[-1.0], self.lungs[1.0]
        apex = min(lung_r.apex, lung_l.apex)
        base = max(lung_r.base, lung_l.base)
        mx = self.study.technique.twist
        # body outline with shoulders
        half = (
            np.maximum(lung_r.lateral(Y), 0.6) + 0.08 + 0.12 * a.soft + 0.4 * expit((apex + 0.05 - Y) / 0.15)
        )
        body = expit((half - np.abs(X)) / (3 * e))
        density = 0.03 + a.soft * (0.55 + 0.45 * body)  # beyond the chest wall: arms and air
        # heart: a tilted ellipse resting on the diaphragm, filling the medial lower lungs
        hx, hy = mx + a.heart_x, base - 0.4 * a.dome_h - 0.6 * a.heart_h
        cos, sin = math.cos(math.radians(-28)), math.sin(math.radians(-28))
        u = ((X - hx) * cos + (Y - hy) * sin) / a.heart_w
        w = (-(X - hx) * sin + (Y - hy) * cos) / a.heart_h
        heart = expit((1 - np.sqrt(u**2 + w**2)) / (1.5 * e / a.heart_h))
        self.F = np.maximum(self.F, 0.88 * heart)
        # the mediastinum, heart and upper abdomen are thicker than the chest wall: whiter
        central = band(X - mx, a.mediastinum + 0.03, 3 * e) * expit((Y - apex + 0.15) / 0.05)
        side_dome = np.where(X < 0, lung_r.dome(-X), lung_l.dome(X))
        abdomen = expit((Y - side_dome) / (2 * e))
        return density + 0.12 * np.maximum(central, heart) + 0.06 * abdomen

    def _vessels(self) -> None:
        """Hila and branching vascular markings radiating from them, denser towards the bases."""
        f, a = self.f, self.study.anatomy
        X, Y = f.X, f.Y
        vrng = np.random.default_rng(a.vessel_seed)
        texture = np.clip(smooth_noise(vrng, self.size, 0.012 * f.unit), 0, None)
        for s, lung in self.lungs.items():
            v = self.masks[s][2]
            hxy = lung.hilum()
            hil = np.exp(-(((X - hxy[0]) / 0.05) ** 2) - ((Y - hxy[1]) / 0.09) ** 2)
            g1, p1 = angular_profile(vrng, 14, (0.012, 0.025))
            g2, p2 = angular_profile(vrng, 36, (0.005, 0.011))
            l1, r = radial_lines(f, hxy, s, g1, p1, 0.12, vrng.uniform(0, 6))
            l2, _ = radial_lines(f, hxy, s, g2, p2, 0.2, vrng.uniform(0, 6))
            vessels = (
                l1 * np.exp(-r / 0.25) * expit((r - 0.04) / 0.02)
                + 0.6 * l2 * np.exp(-r / 0.35) * expit((r - 0.15) / 0.05)
            ) * (0.75 + 0.45 * v)
            self.F = np.maximum(self.F, np.clip(0.5 * hil + 0.45 * vessels + 0.04 * texture, 0, 0.7))

    def _bones(self) -> np.ndarray:
        """Spine, posterior ribs (arched, with cortex), anterior ribs (fainter, sloping down medially), clavicles."""
        f, a = self.f, self.study.anatomy
        X, Y, e = f.X, f.Y, f.px
        apex = min(lung.apex for lung in self.lungs.values())
        mx = self.study.technique.twist
        spine = band(X - 0.4 * mx, 0.065, 2 * e) * (
            0.8 + 0.2 * np.cos(2 * np.pi * (Y - a.rib_offset) / a.rib_spacing)
        )
        bone = 0.07 * spine * expit((Y - apex + 0.3) / 0.1)
        sp = a.rib_spacing
        for s, lung in self.lungs.items():
            m = self.masks[s][0]
            t = s * X
            thorax = (
                expit((lung.lateral(Y) + 0.07 - t) / e)
                * expit((t - 0.04) / 0.02)
                * expit((lung.base + 0.1 - Y) / 0.04)
            )
            phase = (Y - (apex - 0.12 + a.rib_offset * sp * 0.5 - 0.4 * t + 1.0 * t**2)) / sp
            k = np.round(phase)
            d = (phase - k) * sp
            hw = 0.22 * sp
            rib = 0.04 * band(d, hw, e) + 0.035 * np.exp(-(((np.abs(d) - 0.85 * hw) / (0.25 * hw)) ** 2))
            rib *= (k >= 0) * (k <= 10) * thorax * (0.5 + 0.5 * m) * (1.1 - 0.05 * np.clip(k, 0, 10))
            pa = (Y - (apex + 0.12 + 0.4 * (0.85 - t))) / (1.25 * sp)
            ka = np.round(pa)
            ant = 0.035 * band((pa - ka) * 1.25 * sp, 0.3 * sp, 1.5 * e) * (ka >= 0) * (ka <= 5)
            ant *= thorax * expit((t - 0.25) / 0.05) * m
            tc = t - 0.08
            yc = apex + 0.13 - 0.2 * tc + 0.15 * tc * (t - 0.75)
            clav = 0.12 * band(Y - yc, 0.03, e) + 0.06 * np.exp(-(((np.abs(Y - yc) - 0.024) / 0.007) ** 2))
            clav *= expit((tc + 0.01) / 0.01) * expit((0.78 - t) / 0.02)
            bone = bone + rib + ant + clav
        return bone

    def _airways(self) -> None:
        """Trachea and main bronchi (air, darker than the mediastinum); gastric bubble under the left dome."""
        f, a = self.f, self.study.anatomy
        X, Y, e = f.X, f.Y, f.px
        apex = min(lung.apex for lung in self.lungs.values())
        mx = self.study.technique.twist
        tx = 0.7 * mx + self.trachea_shift * expit((apex + 0.45 - Y) / 0.08)
        carina = apex + 0.5
        trachea = band(X - tx, 0.032, 1.5 * e) * expit((carina - Y) / 0.02)
        bron = np.zeros_like(X)
        for lung in self.lungs.values():
            stamp_segment(
                bron, f, (0.7 * mx + self.trachea_shift * 0.2, carina - 0.02), lung.hilum(), 0.02, 1.0
            )
        self.dark += 0.3 * trachea + 0.2 * bron * (1 - self.masks[-1.0][0] - self.masks[1.0][0]).clip(0, 1)
        if a.gastric_bubble > 0:
            gx, gy = 0.35, self.lungs[1.0].base + 0.03 + a.gastric_bubble
            bub = expit(
                (1 - np.sqrt(((X - gx) / (1.4 * a.gastric_bubble)) ** 2 + ((Y - gy) / a.gastric_bubble) ** 2))
                / 0.08
            ) * expit((Y - gy + 0.2 * a.gastric_bubble) / e)
            self.dark += 0.45 * bub

    # --- findings ---------------------------------------------------------------------------------------------
    def hemithorax(self, s: float) -> np.ndarray:
        """Side restriction for fills. Not the lung mask itself: the air term already applies that, and a second
        soft edge would leave a dark rim where an opacity meets the pleura."""
        return expit(s * (self.f.X - self.study.technique.twist) / 0.015)

    def consolidation(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        tex = smooth_noise(rng, self.size, 0.05 * self.f.unit)
        for s in side_signs(x.side):
            m, q, v = self.masks[s]
            if x.pattern == "lobar":
                region = lobe_mask(x.lobe, q, v)
                if x.extent == "moderate":  # a segment: part of the lobe around a random point in it
                    cand = np.argwhere((region * m) > 0.7)
                    if len(cand):
                        r0, c0 = cand[rng.integers(len(cand))]
                        rr, cc = np.mgrid[: self.size, : self.size].astype(np.float32)
                        region = region * np.exp(
                            -(((rr - r0) ** 2 + (cc - c0) ** 2) / (0.22 * self.f.unit) ** 2)
                        )
                        region = np.clip(region * 1.6, 0, 1)
                fill = region * np.clip(0.88 + 0.12 * tex, 0, 1)
                if x.flag:  # air bronchograms: dark branching tubes inside the consolidated lobe
                    g, p = angular_profile(rng, 6, (0.015, 0.03), span=2.6)
                    lines, r = radial_lines(self.f, self.lungs[s].hilum(), s, g, p, 0.15, rng.uniform(0, 6))
                    fill = fill * (1 - 0.45 * lines * expit((r - 0.06) / 0.02) * np.exp(-r / 0.5))
            elif x.pattern == "patchy":
                thr = {"small": 1.1, "moderate": 0.55, "extensive": 0.0}[x.extent]
                fill = expit((tex - thr) / 0.5) * zone_mask(v, x.zones) * expit((0.97 - q) / 0.05)
            else:  # faint: one small ill-defined patch
                lo, hi = ZONE_RANGES[x.zones[0]]
                X0, Y0 = self.lungs[s].point(
                    rng.uniform(0.3, 0.7), rng.uniform(lo + 0.05, min(hi, 0.92) - 0.05)
                )
                rad = rng.uniform(0.07, 0.11)
                fill = np.exp(-((self.f.X - X0) ** 2 + (self.f.Y - Y0) ** 2) / rad**2) * (0.8 + 0.2 * tex)
            fill = x.strength * np.clip(fill, 0, 1) * self.hemithorax(s)  # this side only
            self.F = self.F + fill - self.F * fill  # union: also shows behind the heart

    def effusion(self, x: Finding) -> None:
        """Fluid at the base with a meniscus rising laterally: small blunts the costophrenic angle, moderate also
        hides the hemidiaphragm."""
        s = SIDE_SIGN[x.side]
        lung = self.lungs[s]
        _, q, _ = self.masks[s]
        qc = np.clip(q, 0, 1)
        if x.extent == "small":
            top = lung.base - 0.02 - 0.12 * qc**2
        else:
            top = lung.base - lung.dome_h - 0.03 - 0.2 * qc**2
        fill = 0.95 * expit((self.f.Y - top) / 0.012) * self.hemithorax(s)
        self.F = self.F + fill - self.F * fill

    def _upper_points(self, rng: np.random.Generator, x: Finding, n: int, spread: float = 0.12) -> list:
        """Nodule centres clustered in the finding's zones of its side(s)."""
        lo = min(ZONE_RANGES[z][0] for z in x.zones) + 0.04
        hi = max(ZONE_RANGES[z][1] for z in x.zones) - 0.04
        sides = side_signs(x.side)
        centres = {s: (rng.uniform(0.25, 0.75), rng.uniform(lo + 0.04, hi - 0.04)) for s in sides}
        pts = []
        for i in range(n):
            s = sides[i % len(sides)]
            cq, cv = centres[s]
            q = float(np.clip(cq + rng.normal(0, spread * 1.5), 0.08, 0.92))
            v = float(np.clip(cv + rng.normal(0, spread), lo, hi))
            pts.append((s, *self.lungs[s].point(q, v)))
        return pts

    def nodules(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        r_lo, r_hi = (0.018, 0.028) if x.pattern == "small" else (0.03, 0.05)
        for _, X, Y in self._upper_points(rng, x, x.count):
            stamp_disk(
                self.F,
                self.f,
                X,
                Y,
                rng.uniform(r_lo, r_hi),
                0.7 * x.strength * rng.uniform(0.8, 1),
                edge=0.4,
            )

    def miliary(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        for i in range(x.count):
            s = -1.0 if i % 2 == 0 else 1.0
            X, Y = self.lungs[s].point(rng.uniform(0.05, 0.95), rng.uniform(0.03, 0.95))
            stamp_disk(self.F, self.f, X, Y, rng.uniform(0.011, 0.016), x.strength, edge=0.4)

    def cavity(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        s = SIDE_SIGN[x.side]
        X, Y = self.lungs[s].point(rng.uniform(0.35, 0.65), rng.uniform(0.14, 0.28))
        R = x.size
        wall = R * rng.uniform(0.25, 0.4)
        d = np.sqrt((self.f.X - X) ** 2 + (self.f.Y - Y) ** 2)
        e = self.f.px
        outer = expit((R - d) / e)
        inner = expit((R - wall - d) / e)
        halo = 0.35 * np.exp(-(((d - R) / 0.035) ** 2)) * (d > R)
        self.F = np.maximum(self.F, np.maximum(x.strength * (outer - inner), halo))
        self._cavity = (inner, Y, R - wall, x.flag)

    def finish_cavity(self) -> None:
        """Cavities are air: cleared after all other fills, optionally with an air-fluid level."""
        if self._cavity is None:
            return
        inner, Y0, r_in, level = self._cavity
        self.F *= 1 - inner
        self.dark += 0.05 * inner
        if level:
            fluid = inner * expit((self.f.Y - (Y0 + 0.15 * r_in)) / (0.6 * self.f.px))
            self.F = np.maximum(self.F, 0.9 * fluid)
            self.dark -= 0.05 * fluid

    def fibrosis(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        for s in side_signs(x.side):
            lung = self.lungs[s]
            for _ in range(x.count):
                p0 = lung.point(rng.uniform(0.05, 0.35), rng.uniform(0.3, 0.45))
                p1 = lung.point(rng.uniform(0.2, 0.9), rng.uniform(0.04, 0.25))
                stamp_segment(
                    self.F, self.f, p0, p1, rng.uniform(0.007, 0.012), x.strength * rng.uniform(0.7, 1)
                )
            for _ in range(x.count):  # short reticular strands
                q, v = rng.uniform(0.15, 0.9), rng.uniform(0.04, 0.32)
                ang, ln = rng.uniform(0, np.pi), rng.uniform(0.04, 0.09)
                p0 = lung.point(q, v)
                p1 = (p0[0] + ln * np.cos(ang), p0[1] + ln * np.sin(ang))
                stamp_segment(self.F, self.f, p0, p1, 0.006, 0.8 * x.strength)

    def lymphadenopathy(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        for s in side_signs(x.side):
            lung = self.lungs[s]
            for _ in range(rng.integers(2, 4)):
                X, Y = lung.point(rng.uniform(0.05, 0.2), lung.hilum_v + rng.uniform(-0.08, 0.06))
                stamp_disk(self.F, self.f, X, Y, rng.uniform(0.04, 0.06), x.strength, edge=0.2)

    def granuloma(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        X, Y = self.lungs[SIDE_SIGN[x.side]].point(rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.3))
        r = rng.uniform(0.013, 0.02)
        stamp_disk(self.F, self.f, X, Y, r, 1.0, edge=0.2)
        stamp_disk(self.extra, self.f, X, Y, r, 0.25, edge=0.2, mode="add")

    def apical_cap(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        s = SIDE_SIGN[x.side]
        lung = self.lungs[s]
        t = s * self.f.X
        top = lung.apex + 1.8 * (t - 0.28) ** 2
        thick = 0.03 + 0.015 * smooth_noise(rng, self.size, 0.05 * self.f.unit)
        self.F = np.maximum(self.F, 0.8 * expit((top + thick - self.f.Y) / 0.01) * (self.masks[s][0] > 0.05))

    def nipple_shadows(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        for s in (-1.0, 1.0):
            X, Y = self.lungs[s].point(rng.uniform(0.55, 0.7), rng.uniform(0.78, 0.88))
            stamp_disk(self.F, self.f, X, Y, rng.uniform(0.022, 0.03), 0.35, edge=0.25)

    def ecg_leads(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        for _ in range(x.count):
            X, Y = rng.uniform(-0.8, 0.8), rng.uniform(-0.85, 0.35)
            stamp_disk(self.extra, self.f, X, Y, 0.03, 0.3, edge=0.15, mode="add")
            stamp_disk(self.extra, self.f, X, Y, 0.012, 0.2, edge=0.2, mode="add")
            mid = (X + rng.uniform(-0.3, 0.3), Y + rng.uniform(0.2, 0.5))
            end = (mid[0] + rng.uniform(-0.4, 0.4), 1.3)
            stamp_segment(self.extra, self.f, (X, Y), mid, 0.005, 0.22)
            stamp_segment(self.extra, self.f, mid, end, 0.005, 0.22)

    def skin_fold(self, x: Finding) -> None:
        rng = np.random.default_rng(x.seed)
        lung = self.lungs[SIDE_SIGN[x.side]]
        pts = [lung.point(0.8 + rng.uniform(-0.05, 0.05), v) for v in (0.2, 0.45, 0.7, 0.92)]
        for p0, p1 in zip(pts[:-1], pts[1:], strict=True):
            stamp_segment(self.extra, self.f, p0, p1, 0.006, 0.06)

    def draw(self) -> np.ndarray:
        """Density -> film: exposure curve, contrast, gamma, detector blur, quantum and structured noise."""
        st, t, a = self.study, self.study.technique, self.study.anatomy
        density = self.anatomy()
        for x in st.findings:
            getattr(self, x.kind)(x)
        self.finish_cavity()
        lung = np.clip(self.masks[-1.0][0] + self.masks[1.0][0], 0, 1)
        air = 0.92 * a.soft
        density = density - air * lung * (1 - np.clip(self.F, 0, 1)) + self.extra - self.dark * a.soft
        img = 1 - np.exp(-2.0 / t.exposure * np.clip(density, 0, None))
        img = np.clip((img - 0.04) * t.contrast * 1.1, 0, 1) ** t.gamma
        img *= 1 + 0.05 * self.rng.uniform(-1, 1) * self.f.X  # heel effect
        img = gaussian_filter(img, 0.5 * self.size / 128, mode="nearest")
        img += 0.02 * smooth_noise(self.rng, self.size, self.size / 10)
        img += t.noise * self.rng.standard_normal(img.shape)
        return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def render_study(study: Study, size: int) -> np.ndarray:
    """The study's film as a uint8 [size, size] array; depends only on the study and the size."""
    return Painter(study, size).draw()
