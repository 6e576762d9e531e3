//! From three finder patterns to the code's bits: the module count from
//! their spacing, the alignment pattern where they predict it, a
//! perspective transform from module coordinates to frame pixels, and one
//! sample at each module's centre.

use super::binarize::Bits;
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

/// The version from a version information block, read with the local
/// module size next to a finder; the nearest word within 3 bit errors.
fn version_info(bits: &Bits<'_>, f: &Finders) -> Option<usize> {
    let unit = |from: Point, to: Point| {
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        (dx / len * f.module, dy / len * f.module)
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
    [top_right, bottom_left].into_iter().find_map(|word| {
        VERSION_WORDS.iter().enumerate().map(|(i, &w)| ((w ^ word).count_ones(), i + 7)).filter(|&(d, _)| d <= 3).min().map(|(_, v)| v)
    })
}

/// The module grid, sampled as a code of `dim` modules, and its corners.
pub(super) fn sample(bits: &Bits<'_>, f: &Finders, dim: usize) -> Option<(rqrr::SimpleGrid, [Point; 4])> {
    let (tl, tr, bl) = (f.top_left, f.top_right, f.bottom_left);
    let version = (dim - 17) / 4;
    let far = dim as f32 - 3.5;
    // Where the fourth corner would be on a flat code; with an alignment
    // pattern (version 2 up) the transform is anchored on it instead.
    let mut br = Point { x: tr.x - tl.x + bl.x, y: tr.y - tl.y + bl.y };
    let mut br_source = far;
    if version >= 2 {
        let modules_between = dim as f32 - 7.0;
        let correction = 1.0 - 3.0 / modules_between;
        let est = Point { x: tl.x + correction * (br.x - tl.x), y: tl.y + correction * (br.y - tl.y) };
        for factor in [4.0, 8.0, 16.0] {
            if let Some(a) = alignment(bits, f.module, est.x, est.y, factor * f.module) {
                br = a;
                br_source = far - 3.0;
                break;
            }
        }
    }
    let t = Perspective::quad_to_quad(
        [
            Point { x: 3.5, y: 3.5 },
            Point { x: far, y: 3.5 },
            Point { x: br_source, y: br_source },
            Point { x: 3.5, y: far },
        ],
        [tl, tr, br, bl],
    );
    let mut cells = vec![false; dim * dim];
    for v in 0..dim {
        for u in 0..dim {
            let (x, y) = t.map(u as f32 + 0.5, v as f32 + 0.5);
            if !x.is_finite() || !y.is_finite() {
                return None;
            }
            let (xi, yi) = (x.floor() as i32, y.floor() as i32);
            // A module just outside the frame (a code cut at the edge) is
            // read from the nearest pixel; one far outside means a wrong guess.
            if xi < -2 || yi < -2 || xi > bits.width as i32 + 1 || yi > bits.height as i32 + 1 {
                return None;
            }
            let xi = xi.clamp(0, bits.width as i32 - 1);
            let yi = yi.clamp(0, bits.height as i32 - 1);
            cells[v * dim + u] = bits.dark(xi as usize, yi as usize);
        }
    }
    let corner = |u: f32, v: f32| {
        let (x, y) = t.map(u, v);
        Point { x, y }
    };
    let d = dim as f32;
    let corners = [corner(0.0, 0.0), corner(d, 0.0), corner(d, d), corner(0.0, d)];
    Some((rqrr::SimpleGrid::from_func(dim, |x, y| cells[y * dim + x]), corners))
}

#[cfg(test)]
mod tests {
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
}
