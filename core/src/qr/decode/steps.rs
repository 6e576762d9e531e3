//! The decoder's steps after reading the frame as it is. Each prepares one
//! variant of the frame for the fast path; `decode` tries them in order
//! (most codes read per millisecond first) until one reads the frame's
//! codes. Codes come small or large, blurred or noisy, and light comes
//! even, washed out or with glare: half size averages noise and blur away,
//! smoothing keeps small modules, stretching lifts a washed-out frame, and
//! a wide local mean follows light the 40-pixel blocks of the fast path's
//! own threshold do not.

use super::{pool, Frame};

/// An owned luma image, row-major with no padding. Its pixels come from
/// and go back to the thread's [`pool`] of buffers.
#[derive(Debug, PartialEq, Eq)]
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub px: Vec<u8>,
}

impl Clone for Luma {
    fn clone(&self) -> Luma {
        let mut px = pool::take(self.px.len());
        px.extend_from_slice(&self.px);
        Luma { width: self.width, height: self.height, px }
    }
}

impl Drop for Luma {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.px));
    }
}

/// A zeroed buffer of `len` bytes from the pool, for a loop to write.
fn zeroed(len: usize) -> Vec<u8> {
    let mut px = pool::take(len);
    px.resize(len, 0);
    px
}

impl Luma {
    pub fn from_frame(f: &Frame<'_>) -> Luma {
        let mut px = pool::take(f.width() * f.height());
        for y in 0..f.height() {
            px.extend_from_slice(f.row(y));
        }
        Luma { width: f.width(), height: f.height(), px }
    }

    #[cfg(test)]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.px[y * self.width + x]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Half,
    Smooth,
    Stretched,
    LocalMean,
    HalfStretched,
}

impl Step {
    /// The order `decode` tries them in: most codes read per millisecond
    /// first. With every step run on the tuning frames the fast path missed,
    /// half size stretched read 67 codes at ~1.8 ms a 720p frame, half size
    /// 29 at ~1.3, the local mean 79 at ~5, smoothing 37 at ~2.8 and the
    /// stretched frame 63 at ~7.7 (15 of them no other step reads; times of
    /// then: the local mean is ~1.2 ms cheaper since ADR 0031). A frame
    /// nothing reads runs them all, whatever the order.
    pub const ALL: [Step; 5] = [Step::HalfStretched, Step::Half, Step::LocalMean, Step::Smooth, Step::Stretched];

    /// Whether the step stretches the frame's brightness: what it shows
    /// may be invisible in the frame itself (a washed-out dark screen).
    pub fn lifts_contrast(self) -> bool {
        matches!(self, Step::Stretched | Step::HalfStretched)
    }

    /// How the step's image is seen as dark and light: the local mean's
    /// own window, else the fast path's blocks.
    pub fn binarizer(self) -> super::binarize::Binarizer {
        match self {
            Step::LocalMean => super::binarize::binarize_local_mean,
            _ => super::binarize::binarize,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Half => "finder-half",
            Step::Smooth => "finder-smooth",
            Step::Stretched => "finder-stretched",
            Step::LocalMean => "finder-local-mean",
            Step::HalfStretched => "finder-half-stretched",
        }
    }
}

/// The variants of one frame, each made at most once: half size and
/// smoothing feed two steps each, and a frame without a code goes through
/// every step.
pub(super) struct Variants {
    original: Luma,
    half: Option<Option<Luma>>,
    smooth: Option<Luma>,
}

impl Variants {
    pub fn new(frame: &Frame<'_>) -> Variants {
        Variants { original: Luma::from_frame(frame), half: None, smooth: None }
    }

    fn half(&mut self) -> Option<&Luma> {
        let original = &self.original;
        // Below 240 px a side, half size leaves too few pixels per module.
        self.half.get_or_insert_with(|| (original.width.min(original.height) >= 240).then(|| half(original))).as_ref()
    }

    fn smooth(&mut self) -> &Luma {
        let original = &self.original;
        self.smooth.get_or_insert_with(|| smooth(original))
    }

    /// The image a step reads and the factor from its coordinates to the
    /// frame's, or `None` when the step does not apply to this frame.
    pub fn prepare(&mut self, step: Step) -> Option<(std::borrow::Cow<'_, Luma>, f32)> {
        use std::borrow::Cow::{Borrowed, Owned};
        match step {
            Step::Half => self.half().map(|h| (Borrowed(h), 2.0)),
            Step::Smooth => Some((Borrowed(self.smooth()), 1.0)),
            Step::Stretched => stretch(&self.original).map(|s| (Owned(s), 1.0)),
            Step::LocalMean => Some((Borrowed(self.smooth()), 1.0)),
            Step::HalfStretched => self.half().and_then(stretch).map(|s| (Owned(s), 2.0)),
        }
    }
}

/// Half size by 2×2 averaging: big frames of blurred codes read better
/// smaller, and faster.
pub fn half(l: &Luma) -> Luma {
    let (w, h) = (l.width / 2, l.height / 2);
    let mut px = zeroed(w * h);
    // A pair of rows at a time, two pixels of each: plain loops over
    // slices, without an index to check a pixel.
    for (out, rows) in px.chunks_exact_mut(w.max(1)).zip(l.px.chunks_exact(2 * l.width)) {
        let (a, b) = rows.split_at(l.width);
        for ((o, a), b) in out.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
            *o = ((u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]) + u16::from(b[1])) / 4) as u8;
        }
    }
    Luma { width: w, height: h, px }
}

/// Stretch the 1st–99th percentile of brightness to the full range, for
/// washed-out photos (glare, a dim phone screen). `None` when the frame
/// already uses most of the range.
pub fn stretch(l: &Luma) -> Option<Luma> {
    // Four histograms, summed after: neighbouring pixels are often equal,
    // and one histogram would wait on its own last increment.
    let mut hists = [[0u32; 256]; 4];
    let mut quads = l.px.chunks_exact(4);
    for q in &mut quads {
        for (hist, &p) in hists.iter_mut().zip(q) {
            hist[usize::from(p)] += 1;
        }
    }
    for &p in quads.remainder() {
        hists[0][usize::from(p)] += 1;
    }
    let hist: [usize; 256] = std::array::from_fn(|i| hists.iter().map(|h| h[i] as usize).sum());
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
    let lut: [u8; 256] = std::array::from_fn(|p| ((p as f32 - lo as f32) * 255.0 / span).clamp(0.0, 255.0) as u8);
    let mut px = pool::take(n);
    px.extend(l.px.iter().map(|&p| lut[usize::from(p)]));
    Some(Luma { width: l.width, height: l.height, px })
}

/// 3×3 box blur: sensor noise and JPEG blocks break the dark/light runs
/// the finder-pattern search counts; averaging restores them. Separable
/// (row sums of three, then three of those down the column); at the edges
/// only the pixels inside count. The row sums of three rows are kept, each
/// row's made once, as the window moves down.
pub fn smooth(l: &Luma) -> Luma {
    let (w, h) = (l.width, l.height);
    if w < 3 || h < 3 {
        return l.clone();
    }
    let row_sums = |y: usize, dst: &mut [u16]| {
        let src = &l.px[y * w..(y + 1) * w];
        dst[0] = u16::from(src[0]) + u16::from(src[1]);
        for ((d, a), (b, c)) in dst[1..w - 1].iter_mut().zip(&src[..w - 2]).zip(src[1..w - 1].iter().zip(&src[2..])) {
            *d = u16::from(*a) + u16::from(*b) + u16::from(*c);
        }
        dst[w - 1] = u16::from(src[w - 2]) + u16::from(src[w - 1]);
    };
    // Row y's sums are in ring[y % 3].
    let mut ring = [vec![0u16; w], vec![0u16; w], vec![0u16; w]];
    row_sums(0, &mut ring[0]);
    row_sums(1, &mut ring[1]);
    let mut px = zeroed(w * h);
    for y in 0..h {
        if y >= 1 && y + 1 < h {
            row_sums(y + 1, &mut ring[(y + 1) % 3]);
        }
        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let out = &mut px[y * w..(y + 1) * w];
        if y0 + 2 == y1 {
            // Inside: nine pixels. `× 7282 >> 16` is `/ 9` exactly for sums up
            // to 9 × 255, and lets the loop run eight or sixteen wide.
            let (a, b, c) = (&ring[y0 % 3], &ring[y % 3], &ring[y1 % 3]);
            // The sum in 16 bits (at most 2,295) and the product's high half:
            // one SSE2/NEON multiply for eight pixels.
            for (o, ((a, b), c)) in out[1..w - 1].iter_mut().zip(a[1..w - 1].iter().zip(&b[1..w - 1]).zip(&c[1..w - 1])) {
                *o = ((u32::from(*a + *b + *c) * 7282) >> 16) as u8;
            }
            for x in [0, w - 1] {
                out[x] = ((u32::from(a[x]) + u32::from(b[x]) + u32::from(c[x])) / 6) as u8;
            }
        } else {
            // The first and last rows: two rows of pixels.
            let (a, c) = (&ring[y0 % 3], &ring[y1 % 3]);
            for x in 0..w {
                let n_cols = if x == 0 || x == w - 1 { 2 } else { 3 };
                out[x] = ((u32::from(a[x]) + u32::from(c[x])) / (2 * n_cols)) as u8;
            }
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

    /// Pixels from a fixed-seed generator: the fast loops below must give
    /// what the plain definitions give, pixel for pixel, edges included.
    fn speckled(w: usize, h: usize) -> Luma {
        img(w, h, |x, y| ((((x as u32).wrapping_mul(2654435761)) ^ ((y as u32).wrapping_mul(40503))).wrapping_mul(2246822519) >> 24) as u8)
    }

    #[test]
    fn smooth_is_the_mean_of_the_neighbours_inside_the_frame() {
        let l = speckled(37, 23);
        let s = smooth(&l);
        for y in 0..l.height {
            for x in 0..l.width {
                let (mut sum, mut n) = (0u32, 0u32);
                for ny in y.saturating_sub(1)..=(y + 1).min(l.height - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(l.width - 1) {
                        sum += u32::from(l.at(nx, ny));
                        n += 1;
                    }
                }
                assert_eq!(s.at(x, y), (sum / n) as u8, "({x},{y})");
            }
        }
    }

    #[test]
    fn variants_are_made_once_and_small_frames_skip_half_size() {
        let l = speckled(300, 260);
        let frame = Frame::new(&l.px, l.width, l.height, l.width).unwrap();
        let mut v = Variants::new(&frame);
        let (h, scale) = v.prepare(Step::Half).unwrap();
        assert_eq!((h.width, h.height, scale), (150, 130, 2.0));
        assert_eq!(v.prepare(Step::Smooth).unwrap().0.into_owned(), smooth(&l));
        let small = speckled(200, 100);
        let frame = Frame::new(&small.px, 200, 100, 200).unwrap();
        let mut v = Variants::new(&frame);
        assert!(v.prepare(Step::Half).is_none() && v.prepare(Step::HalfStretched).is_none());
        assert!(v.prepare(Step::LocalMean).is_some());
    }
}

