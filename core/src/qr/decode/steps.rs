//! The decoder's steps after reading the frame as it is. Each prepares one
//! variant of the frame for rqrr; `decode` tries them in order and stops at
//! the first that reads a code, so cheap, often-sufficient steps come first.
//! The variants combine a scale (half, quarter, double) with a binarisation
//! (rqrr's own row threshold, or a 2-D local mean with a wide or fine
//! window): codes come small or large, and light comes even or with glare.

use super::Frame;

/// An owned luma image, row-major with no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub px: Vec<u8>,
}

impl Luma {
    pub fn from_frame(f: &Frame<'_>) -> Luma {
        let mut px = Vec::with_capacity(f.width() * f.height());
        for y in 0..f.height() {
            px.extend((0..f.width()).map(|x| f.at(x, y)));
        }
        Luma { width: f.width(), height: f.height(), px }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.px[y * self.width + x]
    }
}

pub(super) struct Step {
    pub name: &'static str,
    /// The image to read and the factor from its coordinates to the
    /// frame's, or `None` when the step does not apply to this frame.
    pub prepare: fn(&Luma) -> Option<(Luma, f32)>,
}

pub(super) const PIPELINE: &[Step] = &[
    Step { name: "half", prepare: |l| (l.width.min(l.height) >= 480).then(|| (half(l), 2.0)) },
    Step { name: "local-mean", prepare: |l| Some((local_mean_threshold(&smooth(l)), 1.0)) },
    Step { name: "stretched", prepare: |l| stretch(l).map(|s| (s, 1.0)) },
    Step { name: "double", prepare: |l| (l.width.max(l.height) <= 640).then(|| (double(l), 0.5)) },
    Step { name: "inverted", prepare: |l| Some((invert(l), 1.0)) },
    Step { name: "half-local-mean", prepare: |l| (l.width.min(l.height) >= 480).then(|| (local_mean_threshold(&half(l)), 2.0)) },
    Step { name: "quarter-local-mean", prepare: |l| (l.width.min(l.height) >= 600).then(|| (local_mean_threshold(&half(&half(l))), 4.0)) },
    Step { name: "local-mean-fine", prepare: |l| Some((local_mean_threshold_window(&smooth(l), 40), 1.0)) },
    Step { name: "double-local-mean", prepare: |l| (l.width.max(l.height) <= 640).then(|| (local_mean_threshold(&double(l)), 0.5)) },
];

/// Half size by 2×2 averaging: big frames of blurred codes read better
/// smaller, and faster.
pub fn half(l: &Luma) -> Luma {
    let (w, h) = (l.width / 2, l.height / 2);
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let s = u16::from(l.at(2 * x, 2 * y))
                + u16::from(l.at(2 * x + 1, 2 * y))
                + u16::from(l.at(2 * x, 2 * y + 1))
                + u16::from(l.at(2 * x + 1, 2 * y + 1));
            px.push((s / 4) as u8);
        }
    }
    Luma { width: w, height: h, px }
}

/// Double size with bilinear interpolation: small codes get modules wide
/// enough for the finder-pattern search.
pub fn double(l: &Luma) -> Luma {
    let (w, h) = (l.width * 2, l.height * 2);
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let sy = (y as f32 - 0.5) / 2.0;
        let y0 = sy.floor().max(0.0) as usize;
        let y1 = (y0 + 1).min(l.height - 1);
        let fy = (sy - y0 as f32).clamp(0.0, 1.0);
        for x in 0..w {
            let sx = (x as f32 - 0.5) / 2.0;
            let x0 = sx.floor().max(0.0) as usize;
            let x1 = (x0 + 1).min(l.width - 1);
            let fx = (sx - x0 as f32).clamp(0.0, 1.0);
            let top = f32::from(l.at(x0, y0)) * (1.0 - fx) + f32::from(l.at(x1, y0)) * fx;
            let bottom = f32::from(l.at(x0, y1)) * (1.0 - fx) + f32::from(l.at(x1, y1)) * fx;
            px.push((top * (1.0 - fy) + bottom * fy).round() as u8);
        }
    }
    Luma { width: w, height: h, px }
}

/// Stretch the 1st–99th percentile of brightness to the full range, for
/// washed-out photos (glare, a dim phone screen). `None` when the frame
/// already uses most of the range.
pub fn stretch(l: &Luma) -> Option<Luma> {
    let mut hist = [0usize; 256];
    for &p in &l.px {
        hist[usize::from(p)] += 1;
    }
    let n = l.px.len();
    let cut = n / 100;
    let (mut lo, mut acc) = (0usize, 0usize);
    while lo < 255 && acc + hist[lo] <= cut {
        acc += hist[lo];
        lo += 1;
    }
    let (mut hi, mut acc) = (255usize, 0usize);
    while hi > 0 && acc + hist[hi] <= cut {
        acc += hist[hi];
        hi -= 1;
    }
    if hi <= lo || hi - lo > 200 {
        return None;
    }
    let span = (hi - lo) as f32;
    let px = l.px.iter().map(|&p| ((f32::from(p) - lo as f32) * 255.0 / span).clamp(0.0, 255.0) as u8).collect();
    Some(Luma { width: l.width, height: l.height, px })
}

/// 3×3 box blur: sensor noise and JPEG blocks break the dark/light runs
/// the finder-pattern search counts; averaging restores them.
pub fn smooth(l: &Luma) -> Luma {
    let (w, h) = (l.width, l.height);
    let mut px = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let mut sum = 0u32;
            let mut n = 0u32;
            for yy in y0..=y1 {
                for xx in x0..=x1 {
                    sum += u32::from(l.at(xx, yy));
                    n += 1;
                }
            }
            px[y * w + x] = (sum / n) as u8;
        }
    }
    Luma { width: w, height: h, px }
}

/// Black/white by comparing each pixel with the mean of the square around
/// it (Bradley's method on an integral image). rqrr's own threshold averages
/// along rows only, which noise and uneven light defeat; a 2-D window is
/// steadier. The window is an eighth of the shorter side.
pub fn local_mean_threshold(l: &Luma) -> Luma {
    local_mean_threshold_window(l, 16)
}

/// The same with a window of 1/`divisor` of the shorter side: smaller
/// windows follow faster changes of light (glare across a card).
pub fn local_mean_threshold_window(l: &Luma, divisor: usize) -> Luma {
    let (w, h) = (l.width, l.height);
    let mut integral = vec![0u64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u64;
        for x in 0..w {
            row += u64::from(l.at(x, y));
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    let r = (w.min(h) / divisor.max(1)).max(4);
    let mut px = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0];
            let n = ((x1 - x0) * (y1 - y0)) as u64;
            // Dark when clearly below the local mean (by 5 %).
            let dark = u64::from(l.at(x, y)) * 100 * n < sum * 95;
            px[y * w + x] = if dark { 0 } else { 255 };
        }
    }
    Luma { width: w, height: h, px }
}

/// Light-on-dark codes (dark-mode phone screens).
pub fn invert(l: &Luma) -> Luma {
    Luma { width: l.width, height: l.height, px: l.px.iter().map(|&p| 255 - p).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> Luma {
        Luma { width: w, height: h, px: (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect() }
    }

    #[test]
    fn half_averages_blocks() {
        let l = img(4, 2, |x, _| if x < 2 { 0 } else { 200 });
        assert_eq!(half(&l), Luma { width: 2, height: 1, px: vec![0, 200] });
    }

    #[test]
    fn double_keeps_flat_areas_and_size() {
        let l = img(3, 3, |_, _| 77);
        let d = double(&l);
        assert_eq!((d.width, d.height), (6, 6));
        assert!(d.px.iter().all(|&p| p == 77));
        let edge = double(&img(2, 1, |x, _| if x == 0 { 0 } else { 255 }));
        assert!(edge.px[0] < 10 && edge.px[3] > 245, "{:?}", edge.px);
    }

    #[test]
    fn stretch_widens_a_narrow_range_and_skips_a_full_one() {
        let l = img(100, 100, |x, _| 100 + (x as u8) / 2);
        let s = stretch(&l).unwrap();
        assert!(*s.px.iter().min().unwrap() <= 3 && *s.px.iter().max().unwrap() >= 252);
        assert!(stretch(&img(100, 100, |x, _| (x as f32 * 2.55) as u8)).is_none());
    }

    #[test]
    fn smooth_averages_neighbours_and_keeps_flat_areas() {
        let flat = img(4, 4, |_, _| 90);
        assert_eq!(smooth(&flat), flat);
        let dot = img(3, 3, |x, y| if (x, y) == (1, 1) { 90 } else { 0 });
        assert_eq!(smooth(&dot).px[4], 10);
    }

    #[test]
    fn local_mean_threshold_follows_uneven_light() {
        // Module-sized dark squares (a checkerboard of 6 px cells) under
        // light that brightens from left to right: a dark cell on the right
        // is brighter than a light cell on the left, so no global threshold
        // separates them; the local mean does.
        let l = img(200, 200, |x, y| {
            let bg = 60 + (x as u32 * 150 / 200) as u8;
            if (x / 6 + y / 6) % 2 == 0 { bg / 2 } else { bg }
        });
        assert!(l.at(189, 3) > l.at(9, 3), "the right dark cell outshines the left light cell");
        let b = local_mean_threshold(&l);
        for (x, y, dark) in [(3, 3, true), (9, 3, false), (183, 3, true), (189, 3, false), (99, 99, true), (105, 99, false)] {
            assert_eq!(b.px[y * 200 + x] == 0, dark, "({x},{y})");
        }
    }

    #[test]
    fn a_smaller_window_follows_a_local_glare_spot() {
        // Fine modules, and a bright glare spot over part of them: inside the
        // spot a dark module is brighter than the wide window's mean.
        let l = img(400, 400, |x, y| {
            let glare = if (150..250).contains(&x) && (150..250).contains(&y) { 110 } else { 0 };
            let base = if (x / 3 + y / 3) % 2 == 0 { 40 } else { 120 };
            (base + glare).min(255) as u8
        });
        let fine = local_mean_threshold_window(&l, 40);
        // (201, 201) is a dark module inside the glare, (204, 201) a light one.
        assert_eq!(fine.px[201 * 400 + 201], 0);
        assert_eq!(fine.px[201 * 400 + 204], 255);
        assert_eq!(local_mean_threshold_window(&l, 16), local_mean_threshold(&l));
        assert!(fine.px.iter().all(|&p| p == 0 || p == 255));
    }

    #[test]
    fn invert_is_its_own_inverse() {
        let l = img(5, 5, |x, y| (x * 40 + y) as u8);
        assert_eq!(invert(&invert(&l)), l);
    }
}
