//! The decoder's steps after reading the frame as it is. Each prepares one
//! variant of the frame for the fast path; `decode` tries them in order and
//! stops at the first that reads a code, so cheap, often-sufficient steps
//! come first. Codes come small or large, blurred or noisy, and light comes
//! even, washed out or with glare: half size averages noise and blur away,
//! smoothing keeps small modules, stretching lifts a washed-out frame, and
//! a wide local mean follows light the 40-pixel blocks of the fast path's
//! own threshold do not.

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

/// Variants read by the fast path (finder search) rather than rqrr.
pub(super) const FAST_STEPS: &[Step] = &[
    Step { name: "finder-half", prepare: |l| (l.width.min(l.height) >= 240).then(|| (half(l), 2.0)) },
    Step { name: "finder-smooth", prepare: |l| Some((smooth(l), 1.0)) },
    Step { name: "finder-stretched", prepare: |l| stretch(l).map(|s| (s, 1.0)) },
    Step { name: "finder-local-mean", prepare: |l| Some((local_mean_threshold(&smooth(l)), 1.0)) },
    Step { name: "finder-half-stretched", prepare: |l| (l.width.min(l.height) >= 240).then(|| stretch(&half(l)).map(|s| (s, 2.0))).flatten() },
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
/// the finder-pattern search counts; averaging restores them. Separable
/// (row sums of three, then three of those down the column); at the edges
/// only the pixels inside count.
pub fn smooth(l: &Luma) -> Luma {
    let (w, h) = (l.width, l.height);
    if w < 3 || h < 3 {
        return l.clone();
    }
    let mut rows = vec![0u16; w * h];
    for (src, dst) in l.px.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        dst[0] = u16::from(src[0]) + u16::from(src[1]);
        for x in 1..w - 1 {
            dst[x] = u16::from(src[x - 1]) + u16::from(src[x]) + u16::from(src[x + 1]);
        }
        dst[w - 1] = u16::from(src[w - 2]) + u16::from(src[w - 1]);
    }
    let mut px = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let n_rows = (y1 - y0 + 1) as u32;
        let out = &mut px[y * w..(y + 1) * w];
        let (a, b, c) = (&rows[y0 * w..(y0 + 1) * w], &rows[y * w..(y + 1) * w], &rows[y1 * w..(y1 + 1) * w]);
        let middle = if y0 == y || y1 == y { None } else { Some(()) };
        for x in 0..w {
            let sum = u32::from(a[x]) + u32::from(c[x]) + if middle.is_some() { u32::from(b[x]) } else { 0 };
            let n_cols = if x == 0 || x == w - 1 { 2 } else { 3 };
            out[x] = (sum / (n_rows * n_cols)) as u8;
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
    let mut integral = vec![0u32; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += u32::from(l.at(x, y));
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1].wrapping_add(row);
        }
    }
    // A divisor of 8 or more keeps a window's sum below 2³² on the
    // largest frame (16384 px: 2049² × 255), which the wrapping table needs.
    let r = (w.min(h) / divisor.max(8)).max(4);
    let mut px = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            // Wrapping sums: the table overflows on large frames, but a window's
            // sum fits, and modular arithmetic gets it right.
            let sum = u64::from(integral[y1 * (w + 1) + x1].wrapping_add(integral[y0 * (w + 1) + x0]).wrapping_sub(integral[y0 * (w + 1) + x1]).wrapping_sub(integral[y1 * (w + 1) + x0]));
            let n = ((x1 - x0) * (y1 - y0)) as u64;
            // Dark when clearly below the local mean (by 5 %).
            let dark = u64::from(l.at(x, y)) * 100 * n < sum * 95;
            px[y * w + x] = if dark { 0 } else { 255 };
        }
    }
    Luma { width: w, height: h, px }
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
}
