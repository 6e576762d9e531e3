//! From three finder patterns to the code's bits: the module count from
//! their spacing, the alignment pattern where they predict it, a
//! perspective transform from module coordinates to frame pixels, and one
//! sample at each module's centre.

use std::ops::RangeInclusive;

use super::binarize::{Bits, MIN_DYNAMIC_RANGE};
use super::finder::{alignment, Finders, Point};

/// A projective map `(u, v) → (x, y)`, as 3×3 homogeneous coefficients.
#[derive(Debug, Clone, Copy)]
struct Perspective {
    a: [f32; 9],
}

impl Perspective {
    /// The unit square's corners (0,0) (1,0) (1,1) (0,1) onto a quadrilateral.
    fn square_to_quad(q: [Point; 4]) -> Perspective {
        let [p0, p1, p2, p3] = q;
        let dx3 = p0.x - p1.x + p2.x - p3.x;
        let dy3 = p0.y - p1.y + p2.y - p3.y;
        if dx3 == 0.0 && dy3 == 0.0 {
            return Perspective { a: [p1.x - p0.x, p2.x - p1.x, p0.x, p1.y - p0.y, p2.y - p1.y, p0.y, 0.0, 0.0, 1.0] };
        }
        let (dx1, dx2, dy1, dy2) = (p1.x - p2.x, p3.x - p2.x, p1.y - p2.y, p3.y - p2.y);
        let den = dx1 * dy2 - dx2 * dy1;
        let a13 = (dx3 * dy2 - dx2 * dy3) / den;
        let a23 = (dx1 * dy3 - dx3 * dy1) / den;
        Perspective {
            a: [
                p1.x - p0.x + a13 * p1.x,
                p3.x - p0.x + a23 * p3.x,
                p0.x,
                p1.y - p0.y + a13 * p1.y,
                p3.y - p0.y + a23 * p3.y,
                p0.y,
                a13,
                a23,
                1.0,
            ],
        }
    }

    /// The inverse up to scale (the adjugate), which is all a projective map needs.
    fn adjugate(&self) -> Perspective {
        let [a11, a12, a13, a21, a22, a23, a31, a32, a33] = self.a;
        Perspective {
            a: [
                a22 * a33 - a23 * a32,
                a13 * a32 - a12 * a33,
                a12 * a23 - a13 * a22,
                a23 * a31 - a21 * a33,
                a11 * a33 - a13 * a31,
                a13 * a21 - a11 * a23,
                a21 * a32 - a22 * a31,
                a12 * a31 - a11 * a32,
                a11 * a22 - a12 * a21,
            ],
        }
    }

    /// `self` after `first`.
    fn after(&self, first: &Perspective) -> Perspective {
        let (a, b) = (&self.a, &first.a);
        let mut out = [0.0f32; 9];
        for r in 0..3 {
            for c in 0..3 {
                out[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
            }
        }
        Perspective { a: out }
    }

    /// The homography taking each `(u, v)` to its `(x, y)`, by least squares.
    fn fit(pairs: &[super::timing::Pair]) -> Option<Perspective> {
        Some(Perspective { a: super::timing::homography(pairs)?.map(|v| v as f32) })
    }

    fn quad_to_quad(from: [Point; 4], to: [Point; 4]) -> Perspective {
        Perspective::square_to_quad(to).after(&Perspective::square_to_quad(from).adjugate())
    }

    #[inline]
    fn map(&self, u: f32, v: f32) -> (f32, f32) {
        let a = &self.a;
        let w = a[6] * u + a[7] * v + a[8];
        ((a[0] * u + a[1] * v + a[2]) / w, (a[3] * u + a[4] * v + a[5]) / w)
    }
}

/// The finders with their module size measured along the code's own axes.
/// The row scan measures a finder across a row, which is longer than the
/// finder by 1/cos of the code's turn (√2 at 45°): that size misjudges the
/// module count of a turned code by whole versions. Along the line from one
/// finder centre to another the finder is 7 modules wide at any turn
/// (ZXing measures it the same way).
pub(super) fn square_up(bits: &Bits<'_>, f: &Finders) -> Finders {
    let pair = |a: Point, b: Point| match (module_along(bits, a, b, f.module), module_along(bits, b, a, f.module)) {
        (Some(x), Some(y)) => Some((x + y) / 2.0),
        (x, y) => x.or(y),
    };
    let across = pair(f.top_left, f.top_right);
    let down = pair(f.top_left, f.bottom_left);
    let module = match (across, down) {
        (Some(a), Some(d)) => (a + d) / 2.0,
        (a, d) => a.or(d).unwrap_or(f.module),
    };
    Finders { module, ..*f }
}

/// A finder's module size along the line from its centre `a` toward `b`.
/// Out from the centre each way: the dark core ends (1.5 modules out), the
/// dark ring starts and ends (3.5 modules out). Ink spread, blur and a
/// threshold off the middle move every dark-to-light edge the same way, so
/// the span from the core's edge to the ring's outer edge is 2 modules
/// whatever they do; both ways, 4. (Edge to outer edge, as this once was,
/// came out up to a fifth long on blurred codes: whole versions off.)
/// `None` when the runs do not look like a finder's.
pub(super) fn module_along(bits: &Bits<'_>, a: Point, b: Point, row_module: f32) -> Option<f32> {
    // About the row's measure or less (a row is at least as long; the three
    // finders' sizes differ under perspective, hence the 1.3), and not much
    // smaller than a row at 45° gives (1/√2), less a little for ink spread.
    module_along_within(bits, a, b, row_module, 0.5..=1.3)
}

/// [`module_along`] with the size accepted as a range of multiples of
/// `row_module`.
pub(super) fn module_along_within(bits: &Bits<'_>, a: Point, b: Point, row_module: f32, accepted: RangeInclusive<f32>) -> Option<f32> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 {
        return None;
    }
    let (ux, uy) = (dx / len, dy / len);
    // Past the ring's outer edge (3.5 modules out) at the largest size accepted.
    let limit = row_module * (accepted.end() * 4.0).max(6.0) + 4.0;
    // (core's edge, ring's outer edge) along one direction.
    let edges = |sx: f32, sy: f32| -> Option<(f32, f32)> {
        let mut state = 0u8;
        let mut core = 0.0f32;
        let mut t = 0.0f32;
        while t <= limit {
            let dark = bits.dark_at((a.x + sx * t).floor() as i32, (a.y + sy * t).floor() as i32);
            match (state, dark) {
                (0, false) => {
                    core = t;
                    state = 1;
                }
                (1, true) => state = 2,
                (2, false) => return Some((core, t)),
                _ => {}
            }
            t += 0.5;
        }
        None
    };
    if !bits.dark_at(a.x.floor() as i32, a.y.floor() as i32) {
        return None;
    }
    let (core_a, ring_a) = edges(ux, uy)?;
    let (core_b, ring_b) = edges(-ux, -uy)?;
    let module = (ring_a - core_a + ring_b - core_b) / 4.0;
    // The core is 3 modules across: a spread so wide that it is not means
    // the walk left the pattern (a broken ring, a neighbour's module).
    let core = (core_a + core_b) / module;
    if !(1.5..=4.5).contains(&core) {
        return None;
    }
    (module >= row_module * accepted.start() && module <= row_module * accepted.end()).then_some(module)
}

/// How much longer than a module a row's (or a column's) run across one
/// is, for a code whose top edge runs from `a` to `b`.
pub(super) fn row_factor(a: Point, b: Point) -> f32 {
    let (dx, dy) = ((b.x - a.x).abs(), (b.y - a.y).abs());
    let len = (dx * dx + dy * dy).sqrt().max(1e-3);
    len / dx.max(dy).max(1e-3)
}

/// Modules across (21, 25, … 177) from the finder spacing, if plausible.
fn dimension(f: &Finders) -> Option<usize> {
    let d = |a: Point, b: Point| ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
    let across = (d(f.top_left, f.top_right) / f.module).round();
    let down = (d(f.top_left, f.bottom_left) / f.module).round();
    let dim = ((across + down) / 2.0) as i64 + 7;
    let dim = match dim & 3 {
        0 => dim + 1,
        2 => dim - 1,
        3 => dim + 2,
        _ => dim,
    };
    // Just past the largest size is the largest size, measured a little long.
    (17..=189).contains(&dim).then_some(dim.clamp(21, 177) as usize)
}

/// Module counts to try for the code these finders mark, likeliest first.
/// From the spacing alone a large code's size is uncertain by several
/// versions (the module size is measured on 7 modules), so from version 7
/// up the version information block beside the top-right (or bottom-left)
/// finder is read first; then the spacing's guess and its neighbours.
pub(super) fn dimensions(bits: &Bits<'_>, f: &Finders) -> Vec<usize> {
    let Some(dim) = dimension(f) else { return Vec::new() };
    let mut out = Vec::with_capacity(4);
    if dim >= 41 {
        if let Some(v) = version_info(bits, f) {
            out.push(17 + 4 * v);
        }
    }
    for d in [dim, dim + 4, dim.wrapping_sub(4)] {
        if (21..=177).contains(&d) && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The 18-bit version information words of versions 7 to 40 (ISO/IEC 18004
/// annex D): 6 version bits and 12 BCH check bits.
const VERSION_WORDS: [u32; 34] = [
    0x07C94, 0x085BC, 0x09A99, 0x0A4D3, 0x0BBF6, 0x0C762, 0x0D847, 0x0E60D, 0x0F928, 0x10B78, 0x1145D, 0x12A17,
    0x13532, 0x149A6, 0x15683, 0x168C9, 0x177EC, 0x18EC4, 0x191E1, 0x1AFAB, 0x1B08E, 0x1CC1A, 0x1D33F, 0x1ED75,
    0x1F250, 0x209D5, 0x216F0, 0x228BA, 0x2379F, 0x24B0B, 0x2542E, 0x26A64, 0x27541, 0x28C69,
];

/// The version from a version information block, read with the module
/// size the finders show; the nearest word within 3 bit errors. The block's
/// far column is 7 modules from the finder's centre, so a module size off
/// by 7 % (ink spread on 2-pixel modules, a tilted card) reads it half a
/// module off: then it is read again at sizes up to 12 % either way, and
/// taken only where both blocks (beside the top-right and the bottom-left
/// finder) give the same version: random bits come within 3 bits of some
/// version word 13 % of the time, and of the same one in both blocks about
/// once in 2,000 (once in 500 over the four sizes; a wrong version is only
/// one more size to try, which the timing rows and error correction reject).
fn version_info(bits: &Bits<'_>, f: &Finders) -> Option<usize> {
    let [top_right, bottom_left] = version_words(bits, f, f.module);
    if let Some(v) = top_right.or(bottom_left) {
        return Some(v);
    }
    [0.94, 1.06, 0.88, 1.12].into_iter().find_map(|scale| match version_words(bits, f, f.module * scale) {
        [Some(a), Some(b)] if a == b => Some(a),
        _ => None,
    })
}

/// The versions the blocks beside the top-right and the bottom-left finder
/// read as, sampled `module` pixels a module.
fn version_words(bits: &Bits<'_>, f: &Finders, module: f32) -> [Option<usize>; 2] {
    let unit = |from: Point, to: Point| {
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        (dx / len * module, dy / len * module)
    };
    let (ux, uy) = (unit(f.top_left, f.top_right), unit(f.top_left, f.bottom_left));
    let read = |origin: Point, at: &dyn Fn(u32) -> (f32, f32)| -> u32 {
        (0..18).fold(0u32, |word, b| {
            let (c, r) = at(b);
            let x = origin.x + ux.0 * c + uy.0 * r;
            let y = origin.y + ux.1 * c + uy.1 * r;
            word | (u32::from(bits.dark_at(x.floor() as i32, y.floor() as i32)) << b)
        })
    };
    // Bit b: beside the top-right finder at row b/3, column dim-11+b%3;
    // beside the bottom-left one transposed. Offsets from the finder centres.
    let top_right = read(f.top_right, &|b| ((b % 3) as f32 - 7.0, (b / 3) as f32 - 3.0));
    let bottom_left = read(f.bottom_left, &|b| ((b / 3) as f32 - 3.0, (b % 3) as f32 - 7.0));
    [top_right, bottom_left].map(|word| {
        VERSION_WORDS.iter().enumerate().map(|(i, &w)| ((w ^ word).count_ones(), i + 7)).filter(|&(d, _)| d <= 3).min().map(|(_, v)| v)
    })
}

/// Every alignment pattern's centre `(column, row)` on a code of `dim`
/// modules (none over the three finders).
fn alignment_positions(dim: usize) -> Vec<(u8, u8)> {
    let centres = ALIGNMENT.get(dim.saturating_sub(17) / 4).copied().unwrap_or(&[]);
    let last = dim as u8 - 7;
    let over_finder = |c: u8, r: u8| (r == 6 && (c == 6 || c == last)) || (r == last && c == 6);
    centres.iter().flat_map(|&r| centres.iter().map(move |&c| (c, r))).filter(|&(c, r)| !over_finder(c, r)).collect()
}

/// Alignment pattern centres (module rows and columns) by version, from
/// ISO/IEC 18004 annex E; patterns are at every pair except over finders.
const ALIGNMENT: [&[u8]; 41] = [
    &[], &[], &[6, 18], &[6, 22], &[6, 26], &[6, 30], &[6, 34], &[6, 22, 38], &[6, 24, 42], &[6, 26, 46],
    &[6, 28, 50], &[6, 30, 54], &[6, 32, 58], &[6, 34, 62], &[6, 26, 46, 66], &[6, 26, 48, 70], &[6, 26, 50, 74],
    &[6, 30, 54, 78], &[6, 30, 56, 82], &[6, 30, 58, 86], &[6, 34, 62, 90], &[6, 28, 50, 72, 94],
    &[6, 26, 50, 74, 98], &[6, 30, 54, 78, 102], &[6, 28, 54, 80, 106], &[6, 32, 58, 84, 110],
    &[6, 30, 58, 86, 114], &[6, 34, 62, 90, 118], &[6, 26, 50, 74, 98, 122], &[6, 30, 54, 78, 102, 126],
    &[6, 26, 52, 78, 104, 130], &[6, 30, 56, 82, 108, 134], &[6, 34, 60, 86, 112, 138], &[6, 30, 58, 86, 114, 142],
    &[6, 34, 62, 90, 118, 146], &[6, 30, 54, 78, 102, 126, 150], &[6, 24, 50, 76, 102, 128, 154],
    &[6, 28, 54, 80, 106, 132, 158], &[6, 32, 58, 84, 110, 136, 162], &[6, 26, 54, 82, 110, 138, 166],
    &[6, 30, 58, 86, 114, 142, 170],
];

/// A code's grid as first seen: the transform from module coordinates to
/// frame pixels that three finders (and the alignment pattern nearest the
/// fourth corner) give.
pub(super) struct Placement {
    t: Perspective,
    dim: usize,
    row_module: f32,
    module: f32,
}

/// Where the code of `dim` modules marked by these finders lies.
pub(super) fn place(bits: &Bits<'_>, f: &Finders, dim: usize) -> Placement {
    let (tl, tr, bl) = (f.top_left, f.top_right, f.bottom_left);
    let version = (dim - 17) / 4;
    let far = dim as f32 - 3.5;
    // The alignment search reads rows and columns, where a turned module is longer.
    let row_module = f.module * row_factor(tl, tr);
    // Where the fourth corner would be on a flat code; with an alignment
    // pattern (version 2 up) the transform is anchored on it instead.
    let mut br = Point { x: tr.x - tl.x + bl.x, y: tr.y - tl.y + bl.y };
    let mut br_source = far;
    if version >= 2 {
        let modules_between = dim as f32 - 7.0;
        let correction = 1.0 - 3.0 / modules_between;
        let est = Point { x: tl.x + correction * (br.x - tl.x), y: tl.y + correction * (br.y - tl.y) };
        for factor in [4.0, 8.0, 16.0] {
            if let Some(a) = alignment(bits, row_module, est.x, est.y, factor * f.module) {
                br = a;
                br_source = far - 3.0;
                break;
            }
        }
    }
    let t = Perspective::quad_to_quad(
        [Point { x: 3.5, y: 3.5 }, Point { x: far, y: 3.5 }, Point { x: br_source, y: br_source }, Point { x: 3.5, y: far }],
        [tl, tr, br, bl],
    );
    Placement { t, dim, row_module, module: f.module }
}

/// Where the code marked by these finders lies, from its timing patterns
/// (its size counted, its perspective fitted): see [`super::timing`].
pub(super) fn place_by_timing(bits: &Bits<'_>, f: &Finders) -> Option<Placement> {
    let (dim, a) = super::timing::fit(bits, f)?;
    let row_module = f.module * row_factor(f.top_left, f.top_right);
    Some(Placement { t: Perspective { a }, dim, row_module, module: f.module })
}

impl Placement {
    /// The timing patterns read through the transform alone, before the
    /// whole grid is: most wrong triples and sizes end here.
    pub(super) fn timing_plausible(&self, bits: &Bits<'_>) -> bool {
        let n = self.dim;
        let cells = n - 16;
        let (mut row, mut col) = (0usize, 0usize);
        let dark_at = |u: usize, v: usize| {
            let (x, y) = self.t.map(u as f32 + 0.5, v as f32 + 0.5);
            x.is_finite() && y.is_finite() && bits.dark_at(x.floor() as i32, y.floor() as i32)
        };
        for i in 8..n - 8 {
            let dark = i % 2 == 0;
            row += usize::from(dark_at(i, 6) == dark);
            col += usize::from(dark_at(6, i) == dark);
        }
        row * 10 >= cells * 7 && col * 10 >= cells * 7
    }

    /// The grid read through the transform alone, and the code's corners.
    pub(super) fn sample(&self, bits: &Bits<'_>) -> Option<(rqrr::SimpleGrid, [Point; 4])> {
        let grid = read_grid(bits, self.dim, |u, v| self.t.map(u, v))?;
        let corner = |u: f32, v: f32| {
            let (x, y) = self.t.map(u, v);
            Point { x, y }
        };
        let d = self.dim as f32;
        Some((grid, [corner(0.0, 0.0), corner(d, 0.0), corner(d, d), corner(0.0, d)]))
    }

    /// Where the alignment patterns are against where the transform puts
    /// them: `(u, v, dx, dy)` for each one found, after the three finders at
    /// no offset. `None` when none was found (nothing to correct).
    pub(super) fn alignment_offsets(&self, bits: &Bits<'_>) -> Option<Vec<(f32, f32, f32, f32)>> {
        let mut anchors: Vec<(f32, f32, f32, f32)> = vec![(3.5, 3.5, 0.0, 0.0), (self.dim as f32 - 3.5, 3.5, 0.0, 0.0), (3.5, self.dim as f32 - 3.5, 0.0, 0.0)];
        for (c, r) in alignment_positions(self.dim) {
            let (u, v) = (f32::from(c) + 0.5, f32::from(r) + 0.5);
            let (x, y) = self.t.map(u, v);
            // The search needs the whole light-dark-light run inside its
            // window: 4 modules each way finds a pattern up to 2 off.
            if let Some(p) = alignment(bits, self.row_module, x, y, 4.0 * self.module) {
                let (dx, dy) = (p.x - x, p.y - y);
                if dx.hypot(dy) <= 2.0 * self.module {
                    anchors.push((u, v, dx, dy));
                }
            }
        }
        (anchors.len() > 3).then_some(anchors)
    }

    /// The grid read again with the alignment patterns where they were
    /// found: on a large code a centre off by half a pixel puts the far
    /// modules a module off, and a bent or blurred card moves them further.
    /// Each module is moved by the found patterns' offsets near it
    /// (weighted by inverse distance, the finders anchored at no offset).
    pub(super) fn sample_refined(&self, bits: &Bits<'_>, anchors: &[(f32, f32, f32, f32)]) -> Option<rqrr::SimpleGrid> {
        read_grid(bits, self.dim, self.refined_map(anchors))
    }

    /// Module → pixel moved by the alignment patterns' offsets, as
    /// [`Placement::sample_refined`] reads.
    fn refined_map<'s>(&'s self, anchors: &'s [(f32, f32, f32, f32)]) -> impl Fn(f32, f32) -> (f32, f32) + 's {
        move |u, v| {
            let (x, y) = self.t.map(u, v);
            let (mut wx, mut wy, mut wsum) = (0.0f32, 0.0f32, 0.0f32);
            for &(au, av, dx, dy) in anchors {
                let d2 = (u - au).powi(2) + (v - av).powi(2);
                let w = 1.0 / (d2 * d2 + 1.0);
                wx += w * dx;
                wy += w * dy;
                wsum += w;
            }
            (x + wx / wsum, y + wy / wsum)
        }
    }

    /// The grid read with every module's sampling point moved by `(dx, dy)`
    /// pixels in the frame.
    pub(super) fn sample_shifted(&self, bits: &Bits<'_>, dx: f32, dy: f32) -> Option<rqrr::SimpleGrid> {
        read_grid(bits, self.dim, |u, v| {
            let (x, y) = self.t.map(u, v);
            (x + dx, y + dy)
        })
    }

    /// The grid read by each module's grey level interpolated at its centre
    /// ([`Bits::dark_interpolated`]); modules just outside the frame read
    /// its edge, as in [`read_grid`].
    pub(super) fn sample_interpolated(&self, bits: &Bits<'_>) -> Option<rqrr::SimpleGrid> {
        let (w, h) = (bits.width as f32, bits.height as f32);
        read_modules(bits, self.dim, |u, v| self.t.map(u, v), |x, y| bits.dark_interpolated(x.clamp(0.0, w - 0.01), y.clamp(0.0, h - 0.01)) == Some(true))
    }

    /// The grid read by each module's interpolated grey against its block's
    /// threshold moved by the amount that reads the code's known modules
    /// best ([`known_modules`]): where modules are a pixel or two, blur and
    /// compression lighten a lone dark module (or darken a lone light one)
    /// past the threshold that the code's larger patches set, and the
    /// timing rows and the patterns' rings show by how much. On the grid
    /// moved by the alignment patterns' offsets when `anchors` are given
    /// (as [`Placement::sample_refined`]). `None` when the known modules
    /// put the line at the plain threshold: on the plain grid that is the
    /// interpolated reading again; on the refined one a reading not tried.
    pub(super) fn sample_calibrated(&self, bits: &Bits<'_>, anchors: Option<&[(f32, f32, f32, f32)]>) -> Option<rqrr::SimpleGrid> {
        let n = self.dim;
        let (w, h) = (bits.width as f32, bits.height as f32);
        let refined = anchors.map(|a| self.refined_map(a));
        let map = |u: f32, v: f32| refined.as_ref().map_or_else(|| self.t.map(u, v), |m| m(u, v));
        let darkness = module_values(bits, n, map, |x, y| bits.darkness(x.clamp(0.0, w - 0.01), y.clamp(0.0, h - 0.01)).unwrap_or(0.0))?;
        let cut = calibrated_cut(&darkness, n, &known_modules(n))?;
        Some(rqrr::SimpleGrid::from_func(n, |x, y| darkness[y * n + x] > cut))
    }

    /// The grid read by each module's grey level (the mean of its middle: a
    /// quarter of a module each way, at most a pixel) against the modules
    /// around it: halfway between the darkest and the lightest of the 5×5
    /// modules centred on it, or its block's threshold where those differ
    /// by less than ZXing's flat range (24 levels: a patch of one colour).
    /// A block's threshold is a mean over 40×40 pixels of frame: on a
    /// defocused or faint code under glare or a gradient it sits off the
    /// middle of the modules' own levels, which the modules around each one
    /// show. Modules just outside the frame read its nearest pixel, as in
    /// [`read_grid`]; `None` for a grid far outside, and once the reading's
    /// few neighbour readings are spent.
    pub(super) fn sample_by_neighbours(&self, bits: &Bits<'_>) -> Option<rqrr::SimpleGrid> {
        if !bits.take_neighbour_reading() {
            return None;
        }
        let n = self.dim;
        let r = (self.module / 4.0).floor().clamp(0.0, 1.0) as usize;
        let mut level = vec![(0f32, 0u8); n * n];
        for v in 0..n {
            for u in 0..n {
                let (x, y) = self.t.map(u as f32 + 0.5, v as f32 + 0.5);
                if !x.is_finite() || !y.is_finite() {
                    return None;
                }
                let (xi, yi) = (x.floor() as i32, y.floor() as i32);
                if xi < -2 || yi < -2 || xi > bits.width as i32 + 1 || yi > bits.height as i32 + 1 {
                    return None;
                }
                level[v * n + u] = bits.grey_around(xi.max(0) as usize, yi.max(0) as usize, r);
            }
        }
        // The 5×5 window's darkest and lightest: along rows first, then down
        // columns of those (10 comparisons a module, not 25).
        let span = |i: usize| i.saturating_sub(2)..(i + 3).min(n);
        let mut rows = vec![(0f32, 0f32); n * n];
        for v in 0..n {
            for u in 0..n {
                let row = &level[v * n..(v + 1) * n];
                rows[v * n + u] = row[span(u)].iter().fold((f32::MAX, f32::MIN), |(lo, hi), &(g, _)| (lo.min(g), hi.max(g)));
            }
        }
        let flat = f32::from(MIN_DYNAMIC_RANGE);
        let mut cells = vec![false; n * n];
        for v in 0..n {
            for u in 0..n {
                let (lo, hi) = span(v).fold((f32::MAX, f32::MIN), |(lo, hi), vv| (lo.min(rows[vv * n + u].0), hi.max(rows[vv * n + u].1)));
                let (g, t) = level[v * n + u];
                let dark = if hi - lo < flat { g <= f32::from(t) } else { g < (lo + hi) / 2.0 };
                cells[v * n + u] = dark != bits.is_inverted();
            }
        }
        Some(rqrr::SimpleGrid::from_func(n, |x, y| cells[y * n + x]))
    }

    /// The grid read through one homography fitted by least squares to the
    /// finders and every alignment pattern found. Where modules are two
    /// pixels a pattern's centre is good to a pixel, half a module, and the
    /// local offsets above move modules by that noise; a fit over a dozen
    /// patterns averages it away (a flat card's grid is one homography).
    /// Needs three patterns besides the finders, so there is noise to average.
    pub(super) fn sample_fitted(&self, bits: &Bits<'_>, anchors: &[(f32, f32, f32, f32)]) -> Option<rqrr::SimpleGrid> {
        if anchors.len() < 6 {
            return None;
        }
        let pairs: Vec<_> = anchors
            .iter()
            .map(|&(u, v, dx, dy)| {
                let (x, y) = self.t.map(u, v);
                ((f64::from(u), f64::from(v)), (f64::from(x + dx), f64::from(y + dy)))
            })
            .collect();
        let t = Perspective::fit(&pairs)?;
        read_grid(bits, self.dim, |u, v| t.map(u, v))
    }

    /// The grid laid again pattern by pattern, for a large tilted code whose
    /// first grid puts its timing rows a module off (the fourth corner
    /// guessed from the finders, or from a wrong alignment pattern, bends
    /// the whole grid): the alignment patterns nearest the finders, where
    /// the first grid is still right, are found first, the grid refitted to
    /// them (one homography by least squares), and the next ones looked for
    /// where the refitted grid puts them. `None` unless the first two
    /// patterns are found (look-alike finders have none) and the new grid's
    /// timing rows read.
    pub(super) fn relaid(&self, bits: &Bits<'_>) -> Option<Placement> {
        let mut at = alignment_positions(self.dim);
        if at.len() < 6 {
            return None;
        }
        let far = self.dim as f32 - 3.5;
        // Nearest the finders first: by the farther of the two coordinates.
        at.sort_by_key(|&(c, r)| (c.max(r), c.min(r)));
        let point = |t: &Perspective, u: f32, v: f32| {
            let (x, y) = t.map(u, v);
            ((f64::from(u), f64::from(v)), (f64::from(x), f64::from(y)))
        };
        let mut pairs = vec![point(&self.t, 3.5, 3.5), point(&self.t, far, 3.5), point(&self.t, 3.5, far)];
        let mut t = Perspective { a: self.t.a };
        for (i, &(c, r)) in at.iter().enumerate() {
            let (u, v) = (f32::from(c) + 0.5, f32::from(r) + 0.5);
            let (x, y) = t.map(u, v);
            match alignment(bits, self.row_module, x, y, 3.0 * self.module) {
                Some(p) if (p.x - x).hypot(p.y - y) <= 1.5 * self.module => {
                    pairs.push(((f64::from(u), f64::from(v)), (f64::from(p.x), f64::from(p.y))));
                    if pairs.len() >= 5 {
                        t = Perspective::fit(&pairs).unwrap_or(t);
                    }
                }
                _ if i < 2 => return None,
                _ => {}
            }
        }
        let placed = Placement { t, dim: self.dim, row_module: self.row_module, module: self.module };
        (pairs.len() >= 6 && placed.timing_plausible(bits)).then_some(placed)
    }
}

/// Whether the sampled grid's timing patterns (row 6 and column 6 between
/// the finders, alternating dark and light) are mostly right: at least
/// 70 % of their modules each, where a random grid gets about half.
pub(super) fn timing_plausible(g: &rqrr::SimpleGrid) -> bool {
    use rqrr::BitGrid;
    let n = g.size();
    if n < 21 {
        return false;
    }
    let cells = n - 16;
    let (mut row, mut col) = (0usize, 0usize);
    for i in 8..n - 8 {
        let dark = i % 2 == 0;
        row += usize::from(g.bit(6, i) == dark);
        col += usize::from(g.bit(i, 6) == dark);
    }
    row * 10 >= cells * 7 && col * 10 >= cells * 7
}

/// One sample at each module's centre through `map` (module → pixel).
fn read_grid(bits: &Bits<'_>, dim: usize, map: impl Fn(f32, f32) -> (f32, f32)) -> Option<rqrr::SimpleGrid> {
    let (w, h) = (bits.width as i32, bits.height as i32);
    read_modules(bits, dim, map, |x, y| bits.dark((x.floor() as i32).clamp(0, w - 1) as usize, (y.floor() as i32).clamp(0, h - 1) as usize))
}

/// Each module's centre through `map` (module → pixel), read by `read` at
/// that point of the frame; `None` for a point not finite or far outside.
fn read_modules(bits: &Bits<'_>, dim: usize, map: impl Fn(f32, f32) -> (f32, f32), read: impl Fn(f32, f32) -> bool) -> Option<rqrr::SimpleGrid> {
    let cells = module_values(bits, dim, map, read)?;
    Some(rqrr::SimpleGrid::from_func(dim, |x, y| cells[y * dim + x]))
}

/// What `read` says at each module's centre through `map`, row by row.
fn module_values<T: Clone + Default>(bits: &Bits<'_>, dim: usize, map: impl Fn(f32, f32) -> (f32, f32), read: impl Fn(f32, f32) -> T) -> Option<Vec<T>> {
    let mut cells = vec![T::default(); dim * dim];
    for v in 0..dim {
        for u in 0..dim {
            let (x, y) = map(u as f32 + 0.5, v as f32 + 0.5);
            if !x.is_finite() || !y.is_finite() {
                return None;
            }
            let (xi, yi) = (x.floor() as i32, y.floor() as i32);
            // A module just outside the frame (a code cut at the edge) is
            // read from the nearest pixel; one far outside means a wrong guess.
            if xi < -2 || yi < -2 || xi > bits.width as i32 + 1 || yi > bits.height as i32 + 1 {
                return None;
            }
            cells[v * dim + u] = read(x, y);
        }
    }
    Some(cells)
}

/// The modules every code of `dim` modules has, whatever it holds, and
/// whether each is dark: the finders and their separators, the timing
/// rows, the alignment patterns and the dark module by the bottom-left
/// finder. Most are single modules between modules of the other colour
/// (timing rows, the finders' and patterns' rings), as data modules are.
fn known_modules(dim: usize) -> Vec<(usize, usize, bool)> {
    let mut known = Vec::with_capacity(3 * 64 + 2 * dim + 25 * 6);
    let last = dim - 7;
    for (fx, fy) in [(0, 0), (last, 0), (0, last)] {
        for dy in 0..7usize {
            for dx in 0..7usize {
                let ring = dx.abs_diff(3).max(dy.abs_diff(3));
                known.push((fx + dx, fy + dy, ring != 2));
            }
        }
    }
    for i in 0..8 {
        let far = dim - 1 - i;
        known.extend([(i, 7, false), (7, i, false), (far, 7, false), (dim - 8, i, false), (i, dim - 8, false), (7, far, false)]);
    }
    for i in 8..dim - 8 {
        known.extend([(i, 6, i % 2 == 0), (6, i, i % 2 == 0)]);
    }
    for (c, r) in alignment_positions(dim) {
        let (c, r) = (usize::from(c), usize::from(r));
        for dy in 0..5usize {
            for dx in 0..5usize {
                known.push((c + dx - 2, r + dy - 2, dx.abs_diff(2).max(dy.abs_diff(2)) != 1));
            }
        }
    }
    known.push((8, dim - 8, true));
    known
}

/// The darkness above which a module reads dark that reads the most of
/// `known` right (`darkness[y * dim + x]` as [`Bits::darkness`] gives it):
/// halfway between the two neighbouring known levels it falls between (so
/// where they all read right, as far from the dark ones as from the light
/// ones); the lowest such cut on a tie. `None` when that is the plain
/// threshold, 0, within a grey level.
fn calibrated_cut(darkness: &[f32], dim: usize, known: &[(usize, usize, bool)]) -> Option<f32> {
    let mut seen: Vec<(f32, bool)> = known.iter().map(|&(x, y, dark)| (darkness[y * dim + x], dark)).collect();
    seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Cutting before index i: below reads light, from i on dark. Misread:
    // the dark ones below and the light ones from i on.
    let lights = seen.iter().filter(|s| !s.1).count();
    let (mut darks_below, mut lights_below) = (0usize, 0usize);
    let mut best = (usize::MAX, 0usize);
    for i in 0..=seen.len() {
        let misread = darks_below + (lights - lights_below);
        if misread < best.0 {
            best = (misread, i);
        }
        if let Some(&(_, dark)) = seen.get(i) {
            if dark {
                darks_below += 1;
            } else {
                lights_below += 1;
            }
        }
    }
    let i = best.1;
    let cut = match (i.checked_sub(1).and_then(|j| seen.get(j)), seen.get(i)) {
        (Some(a), Some(b)) => (a.0 + b.0) / 2.0,
        (None, Some(b)) => b.0 - 1.0,
        (Some(a), None) => a.0 + 1.0,
        (None, None) => 0.0,
    };
    (cut.abs() >= 1.0).then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::super::binarize::binarize;
    use super::super::Frame;
    use super::*;

    #[test]
    fn a_perspective_maps_its_corners_and_back() {
        let from = [Point { x: 3.5, y: 3.5 }, Point { x: 21.5, y: 3.5 }, Point { x: 18.5, y: 18.5 }, Point { x: 3.5, y: 21.5 }];
        let to = [Point { x: 100.0, y: 80.0 }, Point { x: 300.0, y: 95.0 }, Point { x: 280.0, y: 270.0 }, Point { x: 90.0, y: 300.0 }];
        let t = Perspective::quad_to_quad(from, to);
        for (a, b) in from.iter().zip(&to) {
            let (x, y) = t.map(a.x, a.y);
            assert!((x - b.x).abs() < 0.01 && (y - b.y).abs() < 0.01, "{a:?} → ({x}, {y}), want {b:?}");
        }
    }

    #[test]
    fn dimension_rounds_to_a_valid_size() {
        let f = |side: f32, module: f32| Finders {
            top_left: Point { x: 0.0, y: 0.0 },
            top_right: Point { x: side, y: 0.0 },
            bottom_left: Point { x: 0.0, y: side },
            module,
        };
        assert_eq!(dimension(&f(14.0 * 4.0, 4.0)), Some(21));
        assert_eq!(dimension(&f(18.3 * 3.0, 3.0)), Some(25));
        assert_eq!(dimension(&f(1.0, 4.0)), None);
    }

    /// A version-`version` code upright on paper, `m` pixels a module with
    /// a 4-module quiet zone: its pixels, side, modules and finder centres.
    fn drawn(version: i16, m: usize) -> (Vec<u8>, usize, Vec<bool>, [Point; 3]) {
        let code = qrcode::QrCode::with_version(b"vaxdesk grid test", qrcode::Version::Normal(version), qrcode::EcLevel::M).unwrap();
        let n = code.width();
        let dark: Vec<bool> = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
        let side = (n + 8) * m;
        let px = (0..side * side)
            .map(|i| {
                let (x, y) = ((i % side) / m, (i / side) / m);
                let inside = (4..n + 4).contains(&x) && (4..n + 4).contains(&y);
                if inside && dark[(y - 4) * n + x - 4] { 20 } else { 235 }
            })
            .collect();
        let at = |mx: f32, my: f32| Point { x: (4.0 + mx) * m as f32, y: (4.0 + my) * m as f32 };
        let far = n as f32 - 3.5;
        (px, side, dark, [at(3.5, 3.5), at(far, 3.5), at(3.5, far)])
    }

    /// Modules sampled otherwise than drawn.
    fn misread(grid: &rqrr::SimpleGrid, dark: &[bool]) -> usize {
        use rqrr::BitGrid;
        let n = grid.size();
        (0..n).flat_map(|y| (0..n).map(move |x| (x, y))).filter(|&(x, y)| grid.bit(y, x) != dark[y * n + x]).count()
    }

    #[test]
    fn a_version_block_is_read_with_the_module_size_a_little_off() {
        // 9 % off puts the block's far column 0.6 of a module off: read at
        // the finders' size alone, both blocks come out wrong.
        let (px, side, _, [top_left, top_right, bottom_left]) = drawn(10, 3);
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        for module in [3.0, 3.0 * 1.09, 3.0 * 0.91] {
            let f = Finders { top_left, top_right, bottom_left, module };
            assert_eq!(version_info(&bits, &f), Some(10), "module {module}");
            if module != 3.0 {
                assert!(!version_words(&bits, &f, module).contains(&Some(10)), "module {module} read as it is");
            }
        }
    }

    /// A version-18 code of `m`-pixel modules and a first grid whose far
    /// corner is `off` pixels from where the three finders put it (as when
    /// a wrong alignment pattern was taken for the fourth corner).
    fn v18_with_far_corner_off(m: usize, off: (f32, f32)) -> (Vec<u8>, usize, Vec<bool>, Placement) {
        let (px, side, dark, [top_left, top_right, bottom_left]) = drawn(18, m);
        let n = 17 + 4 * 18;
        let far = n as f32 - 3.5;
        let corner = Point { x: top_right.x + bottom_left.x - top_left.x + off.0, y: top_right.y + bottom_left.y - top_left.y + off.1 };
        let from = [Point { x: 3.5, y: 3.5 }, Point { x: far, y: 3.5 }, Point { x: far, y: far }, Point { x: 3.5, y: far }];
        let t = Perspective::quad_to_quad(from, [top_left, top_right, corner, bottom_left]);
        (px, side, dark, Placement { t, dim: n, row_module: m as f32, module: m as f32 })
    }

    #[test]
    fn a_grid_refitted_to_every_alignment_pattern_reads_every_module() {
        // A version-18 code of 2-pixel modules whose first grid put the far
        // corner 1.5 modules off (as a wrong alignment pattern taken for the
        // fourth corner's does): its 13 patterns, found where they are, give
        // one homography that reads the code as drawn.
        let (px, side, dark, placed) = v18_with_far_corner_off(2, (-2.0, 2.0));
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        let anchors = placed.alignment_offsets(&bits).unwrap();
        assert_eq!(anchors.len(), 3 + 13);
        assert!(anchors.iter().any(|a| a.2.hypot(a.3) > 1.5), "the first grid is off: {anchors:?}");
        assert_eq!(misread(&placed.sample_fitted(&bits, &anchors).unwrap(), &dark), 0);
        // Not from the finders alone: with only two patterns there is no fit.
        assert!(placed.sample_fitted(&bits, &anchors[..5]).is_none());
    }

    #[test]
    fn a_shifted_grid_reads_the_pixels_beside_its_modules_centres() {
        // 4-pixel modules: 0.3 of a pixel stays inside every module; a whole
        // module's shift reads each module's neighbour on that side.
        let (px, side, dark, placed) = v18_with_far_corner_off(4, (0.0, 0.0));
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        assert_eq!(misread(&placed.sample(&bits).unwrap().0, &dark), 0);
        for (dx, dy) in [(0.3, 0.0), (-0.3, 0.0), (0.0, 0.3), (0.0, -0.3)] {
            assert_eq!(misread(&placed.sample_shifted(&bits, dx, dy).unwrap(), &dark), 0, "({dx}, {dy})");
        }
        use rqrr::BitGrid;
        let right = placed.sample_shifted(&bits, 4.0, 0.0).unwrap();
        let below = placed.sample_shifted(&bits, 0.0, 4.0).unwrap();
        let n = right.size();
        for y in 0..n - 1 {
            for x in 0..n - 1 {
                assert_eq!(right.bit(y, x), dark[y * n + x + 1], "module ({x}, {y}) moved right");
                assert_eq!(below.bit(y, x), dark[(y + 1) * n + x], "module ({x}, {y}) moved down");
            }
        }
    }

    #[test]
    fn a_grid_of_modules_under_two_pixels_is_read_again_interpolated_at_their_centres() {
        // A version-5 code at 1.8 px a module, each pixel the share of ink
        // over its area (as a lens and sensor give), the code's corner at
        // (9.5, 9.5), a little defocused: a module's centre falls anywhere
        // in a pixel, whose level is then partly its neighbour's. Read at
        // the exact grid, by pixel and interpolated.
        let code = qrcode::QrCode::with_version(b"vaxdesk small", qrcode::Version::Normal(5), qrcode::EcLevel::M).unwrap();
        let n = code.width();
        let dark: Vec<bool> = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
        let (m, origin, side) = (1.8f32, 9.5f32, 96usize);
        const SUB: usize = 8;
        let px: Vec<u8> = (0..side * side)
            .map(|i| {
                let (x, y) = (i % side, i / side);
                let mut ink = 0usize;
                for sy in 0..SUB {
                    for sx in 0..SUB {
                        let u = ((x as f32 + (sx as f32 + 0.5) / SUB as f32 - origin) / m).floor();
                        let v = ((y as f32 + (sy as f32 + 0.5) / SUB as f32 - origin) / m).floor();
                        let inside = u >= 0.0 && v >= 0.0 && (u as usize) < n && (v as usize) < n;
                        ink += usize::from(inside && dark[v as usize * n + u as usize]);
                    }
                }
                (235 - ink * 215 / (SUB * SUB)) as u8
            })
            .collect();
        // A little defocus: the [1 3 1] kernel down and across.
        const W: u32 = 3;
        let blur = |px: &[u8], dx: usize, dy: usize| -> Vec<u8> {
            (0..side * side)
                .map(|i| {
                    let (x, y) = (i % side, i / side);
                    let (a, c) = ((x.saturating_sub(dx), y.saturating_sub(dy)), ((x + dx).min(side - 1), (y + dy).min(side - 1)));
                    ((u32::from(px[a.1 * side + a.0]) + W * u32::from(px[i]) + u32::from(px[c.1 * side + c.0])) / (W + 2)) as u8
                })
                .collect()
        };
        let px = blur(&blur(&px, 1, 0), 0, 1);
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        let far = n as f32 - 3.5;
        let at = |u: f32, v: f32| Point { x: origin + u * m, y: origin + v * m };
        let corners = [Point { x: 3.5, y: 3.5 }, Point { x: far, y: 3.5 }, Point { x: far, y: far }, Point { x: 3.5, y: far }];
        let t = Perspective::quad_to_quad(corners, [at(3.5, 3.5), at(far, 3.5), at(far, far), at(3.5, far)]);
        let placed = Placement { t, dim: n, row_module: m, module: m };
        let by_pixel = misread(&placed.sample(&bits).unwrap().0, &dark);
        let interpolated = misread(&placed.sample_interpolated(&bits).unwrap(), &dark);
        // Not better everywhere: over 1.5-1.8 px modules, three offsets and
        // four blurs each misread fewer modules on some frames; a second
        // reading where the first failed, judged by error correction.
        assert!(by_pixel >= 3 && interpolated == 0, "interpolated {interpolated} misread, by pixel {by_pixel}");
    }

    #[test]
    fn a_faint_code_under_an_off_threshold_is_read_against_its_neighbouring_modules() {
        // A code at 30 levels of contrast (110 and 140) whose blocks'
        // thresholds all sit at 100, as a darker surround pulls them: one
        // sample a module reads every module light; each module against the
        // middle of the 5×5 around it reads the code.
        let (px, side, dark, placed) = v18_with_far_corner_off(4, (0.0, 0.0));
        let px: Vec<u8> = px.into_iter().map(|p| if p < 128 { 110 } else { 140 }).collect();
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap().with_threshold(100);
        let one = placed.sample(&bits).unwrap().0;
        assert_eq!(misread(&one, &dark), dark.iter().filter(|&&d| d).count(), "every dark module reads light");
        let grid = placed.sample_by_neighbours(&bits).unwrap();
        let mut bytes = Vec::new();
        rqrr::Grid::new(grid).decode_to(&mut bytes).expect("the code reads");
        assert_eq!(bytes, b"vaxdesk grid test");
        // Read inverted (a light-on-dark screen), the same levels read as
        // the code's negative: every module flipped.
        let inverted = placed.sample_by_neighbours(&bits.inverted()).unwrap();
        let regular = placed.sample_by_neighbours(&bits).unwrap();
        // A reading makes four neighbour readings, then no more (`grid` and
        // `regular` were two of this one's; the inverted reading has its own).
        assert!(placed.sample_by_neighbours(&bits).is_some() && placed.sample_by_neighbours(&bits).is_some());
        assert!(placed.sample_by_neighbours(&bits).is_none(), "the reading's neighbour readings are spent");
        use rqrr::BitGrid;
        let n = regular.size();
        assert!((0..n).all(|y| (0..n).all(|x| inverted.bit(y, x) != regular.bit(y, x))));
    }

    #[test]
    fn a_grid_bent_by_a_wrong_fourth_corner_is_laid_again_on_its_alignment_patterns() {
        // A version-18 code whose first grid took a point 2.5 modules off for
        // the fourth corner: its timing rows come out wrong, so the grid is
        // laid again pattern by pattern, and reads every module.
        let (px, side, dark, bent) = v18_with_far_corner_off(3, (7.5, -7.5));
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        assert!(!bent.timing_plausible(&bits), "the bent grid misreads its timing rows");
        let relaid = bent.relaid(&bits).expect("laid again");
        assert_eq!(misread(&relaid.sample(&bits).unwrap().0, &dark), 0);
        // Look-alike finders over no code have no alignment patterns to lay a grid on.
        let paper = vec![235u8; side * side];
        let blank = Frame::new(&paper, side, side, side).unwrap();
        assert!(bent.relaid(&binarize(&blank).unwrap()).is_none());
    }

    #[test]
    fn the_known_modules_are_every_code_s_own() {
        for version in [1, 2, 6, 7, 14, 22, 40] {
            let code = qrcode::QrCode::with_version(b"vaxdesk", qrcode::Version::Normal(version), qrcode::EcLevel::L).unwrap();
            let n = code.width();
            let colors = code.to_colors();
            let known = known_modules(n);
            let alignment = alignment_positions(n).len();
            assert_eq!(known.len(), 3 * 49 + 6 * 8 + 2 * (n - 16) + 25 * alignment + 1, "version {version}");
            for (x, y, dark) in known {
                assert_eq!(colors[y * n + x] == qrcode::Color::Dark, dark, "version {version}, module ({x}, {y})");
            }
        }
    }

    #[test]
    fn the_cut_lies_halfway_between_the_known_dark_and_light_modules() {
        // Version 1: darkness by the known module's colour.
        let n = 21;
        let known = known_modules(n);
        let with = |dark: f32, light: f32| {
            let mut d = vec![0.0; n * n];
            for &(x, y, is_dark) in &known {
                d[y * n + x] = if is_dark { dark } else { light };
            }
            d
        };
        // The plain threshold halfway between: the same reading again.
        assert_eq!(calibrated_cut(&with(40.0, -40.0), n, &known), None);
        // Closer to the dark modules than to the light ones: halfway.
        assert_eq!(calibrated_cut(&with(40.0, -60.0), n, &known), Some(-10.0));
        // Dark modules lightened past the threshold: the cut moves between
        // the two levels, where both read right.
        let cut = calibrated_cut(&with(-10.0, -60.0), n, &known).unwrap();
        assert!((-60.0..-10.0).contains(&cut), "{cut}");
        // One known light module darker than every dark one: reading it
        // right would misread all the dark ones; the cut stays between the rest.
        let mut d = with(-10.0, -60.0);
        let (x, y, _) = known.iter().copied().find(|k| !k.2).unwrap();
        d[y * n + x] = 5.0;
        let cut = calibrated_cut(&d, n, &known).unwrap();
        assert!((-60.0..-10.0).contains(&cut), "{cut}");
    }
}
