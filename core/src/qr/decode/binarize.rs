//! Local-average binarisation: the frame cut into 8×8 blocks, each pixel
//! compared with the mean of the 5×5 blocks around its own. The same idea as
//! ZXing's hybrid binariser: it copes with uneven light (a card half in the
//! tent's shade) in two passes over the frame, after a look at a few rows
//! for the frame's noise (which decides what counts as a flat block).

use wide::u8x16;

use super::Frame;

const BLOCK: usize = 8;
/// The smallest flat range (ZXing's): a block whose darkest and lightest
/// pixels differ by at most [`flat_range`] (never less than this) is flat
/// (all paper or all ink), and its level is guessed from its neighbours.
pub(super) const MIN_DYNAMIC_RANGE: u8 = 24;
/// A flat block's range in units of the frame's noise σ (see [`flat_range`]).
const NOISE_RANGE: f32 = 5.0;
/// The largest flat range: where most neighbouring pixels differ by ~50
/// levels (a frame of 1-pixel detail, or of noise beyond any code) edges,
/// not noise, set the median, and every block would count as flat.
const MAX_FLAT_RANGE: f32 = 128.0;

/// The frame seen as dark and light pixels. Thresholds are kept per block
/// and pixels compared when asked: the finder search reads one row in three
/// and the sampler one pixel per module, so most pixels are never compared.
#[derive(Debug, Clone)]
pub(super) struct Bits<'a> {
    pub width: usize,
    pub height: usize,
    frame: Frame<'a>,
    /// One threshold per block, row-major, `blocks_wide` per row.
    thresholds: Vec<u8>,
    blocks_wide: usize,
    /// Light on dark (dark-mode screens): dark means above the threshold.
    inverted: bool,
    /// The thresholds of the other reading: a flat block is taken for the
    /// background, which is light paper when the code is dark on light and
    /// a dark screen when the code is light on dark (see [`block_levels`]).
    thresholds_inverted: Vec<u8>,
    /// Neighbour readings of failing grids left to this reading (see
    /// [`Bits::take_neighbour_reading`]).
    neighbour_readings: std::cell::Cell<u8>,
}

/// Neighbour readings a reading may make: each costs about twenty
/// one-pixel samplings of its grid, and only grids whose format was read
/// ask for one.
const NEIGHBOUR_READINGS: u8 = 4;

impl Bits<'_> {
    /// Row `y` as run lengths, alternating light and dark and starting with
    /// light (a row that starts dark starts with an empty light run), into
    /// `runs`. Reused between rows.
    pub fn runs_into(&self, y: usize, runs: &mut Vec<u32>) {
        self.runs_between(y, 0, self.width, runs);
    }

    /// The same for the pixels `x0..x1` of row `y` (the alignment search's
    /// window): the runs of `dark(x0, y) ..= dark(x1 - 1, y)`.
    pub fn runs_between(&self, y: usize, x0: usize, x1: usize, runs: &mut Vec<u32>) {
        runs.clear();
        let x1 = x1.min(self.width);
        if x0 >= x1 {
            return;
        }
        let row = self.frame.row(y);
        let thresholds = &self.thresholds[(y / BLOCK) * self.blocks_wide..][..self.blocks_wide];
        let flip = if self.inverted { u64::MAX } else { 0 };
        // Sixty-four pixels at a time as one word of dark bits: a set bit of
        // `m ^ (m << 1)` is a pixel unlike the one before it. Rows are read
        // for runs a row in three across the frame, so this is the finder
        // search's inner loop; a byte a pixel (a line of 0s and 1s written,
        // then scanned eight bytes at a time) spent most of its time on
        // words without a transition.
        let (mut start, mut before) = (x0, 0u64);
        let mut base = x0 - x0 % CHUNK;
        while base < x1 {
            // The part's pixels of this chunk, `lo..hi` from its start:
            // pixels outside count as light, so the part starts light.
            let (lo, hi) = (x0.saturating_sub(base), (x1 - base).min(CHUNK));
            let part = (u64::MAX >> (CHUNK - hi)) & (u64::MAX << lo);
            let m = (dark_bits(row, thresholds, base, lo, hi) ^ flip) & part;
            let mut changes = (m ^ (m << 1 | before)) & part;
            while changes != 0 {
                let at = base + changes.trailing_zeros() as usize;
                runs.push((at - start) as u32);
                start = at;
                changes &= changes - 1;
            }
            before = m >> (CHUNK - 1);
            base += CHUNK;
        }
        runs.push((x1 - start) as u32);
    }

    #[inline]
    pub fn dark(&self, x: usize, y: usize) -> bool {
        let t = self.thresholds[(y / BLOCK) * self.blocks_wide + x / BLOCK];
        (self.frame.at(x, y) <= t) != self.inverted
    }

    /// The same, for coordinates that may fall outside (outside is light).
    #[inline]
    pub fn dark_at(&self, x: i32, y: i32) -> bool {
        x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height && self.dark(x as usize, y as usize)
    }

    /// The mean grey level of the square of `2r + 1` pixels around (x, y),
    /// cut at the frame's edges, and the threshold (x, y) is compared with;
    /// a point past the right or bottom edge is read at the nearest pixel.
    pub fn grey_around(&self, x: usize, y: usize, r: usize) -> (f32, u8) {
        let (x, y, r) = (x.min(self.width - 1) as i32, y.min(self.height - 1) as i32, r as i32);
        let (mut sum, mut n) = (0u32, 0u32);
        for yy in (y - r).max(0)..=(y + r).min(self.height as i32 - 1) {
            for xx in (x - r).max(0)..=(x + r).min(self.width as i32 - 1) {
                sum += u32::from(self.frame.at(xx as usize, yy as usize));
                n += 1;
            }
        }
        let t = self.thresholds[(y as usize / BLOCK) * self.blocks_wide + x as usize / BLOCK];
        (sum as f32 / n.max(1) as f32, t)
    }

    /// Whether the point `(x, y)` of the frame (pixel `i` covering `i..i + 1`)
    /// is dark by its grey level interpolated between the four nearest
    /// pixel centres, against the threshold of the block it falls in. Where
    /// modules are under two pixels the pixel a module's centre falls in is
    /// up to half a pixel off it and partly its neighbour's; interpolated,
    /// the level follows the centre (and mixes in the pixels around it):
    /// another reading of the same grid, whose misreads fall elsewhere.
    /// `None` outside the frame.
    pub fn dark_interpolated(&self, x: f32, y: f32) -> Option<bool> {
        let (grey, t) = self.grey_interpolated(x, y)?;
        // At or below, as `dark` compares a pixel.
        Some((grey <= t) != self.inverted)
    }

    /// How much darker than its block's threshold the point `(x, y)` is, by
    /// its interpolated grey level (as [`Bits::dark_interpolated`]), in grey
    /// levels: above 0 is dark (for a light-on-dark reading, lighter).
    /// `None` outside the frame.
    pub fn darkness(&self, x: f32, y: f32) -> Option<f32> {
        let (grey, t) = self.grey_interpolated(x, y)?;
        Some(if self.inverted { grey - t } else { t - grey })
    }

    fn grey_interpolated(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        if !(0.0..self.width as f32).contains(&x) || !(0.0..self.height as f32).contains(&y) {
            return None;
        }
        let (fx, fy) = ((x - 0.5).max(0.0), (y - 0.5).max(0.0));
        let (x0, y0) = (fx as usize, fy as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let at = |x: usize, y: usize| f32::from(self.frame.at(x, y));
        let top = at(x0, y0) * (1.0 - ax) + at(x1, y0) * ax;
        let bottom = at(x0, y1) * (1.0 - ax) + at(x1, y1) * ax;
        let grey = top * (1.0 - ay) + bottom * ay;
        Some((grey, f32::from(self.thresholds[(y as usize / BLOCK) * self.blocks_wide + x as usize / BLOCK])))
    }

    /// Whether a failing grid may still be read against its neighbouring
    /// modules: a few a reading, so a frame full of look-alike grids whose
    /// format happens to read costs a bounded time (six steps, two readings
    /// each, a few tries each: at most ~50 a frame).
    pub fn take_neighbour_reading(&self) -> bool {
        let left = self.neighbour_readings.get();
        self.neighbour_readings.set(left.saturating_sub(1));
        left > 0
    }

    /// Whether dark means above the threshold (a light-on-dark reading).
    pub fn is_inverted(&self) -> bool {
        self.inverted
    }

    /// The same reading with every block's threshold `t` (tests that need a
    /// threshold the frame would not give).
    #[cfg(test)]
    pub(super) fn with_threshold(self, t: u8) -> Self {
        let n = self.thresholds.len();
        Bits { thresholds: vec![t; n], thresholds_inverted: vec![t; n], ..self }
    }

    /// Light and dark swapped, for codes shown light on dark (dark-mode screens).
    pub fn inverted(&self) -> Self {
        let mut other = Bits { inverted: !self.inverted, neighbour_readings: NEIGHBOUR_READINGS.into(), ..self.clone() };
        std::mem::swap(&mut other.thresholds, &mut other.thresholds_inverted);
        other
    }
}

/// Pixels a word of [`dark_bits`] covers: eight blocks.
const CHUNK: usize = 64;

/// Bit `i` set where pixel `base + i` of `row` is at or below its block's
/// threshold, for the pairs of blocks that hold pixels `base + lo .. base +
/// hi` (`base` a multiple of [`CHUNK`]); the bits of other pairs are left
/// clear. Bits of a read pair outside `lo..hi`, or past the row's end, are
/// set or not: the caller masks them. Sixteen comparisons at once (SSE2 on
/// x86-64, NEON on arm64, through `wide`; one at a time on 32-bit ARM),
/// their top bits gathered into a word.
#[inline]
fn dark_bits(row: &[u8], thresholds: &[u8], base: usize, lo: usize, hi: usize) -> u64 {
    const PAIR: usize = 2 * BLOCK;
    let mut m = 0u64;
    for k in lo / PAIR..hi.div_ceil(PAIR) {
        let x = base + k * PAIR;
        let px = match row.get(x..x + PAIR) {
            Some(whole) => whole.try_into().unwrap_or([0; PAIR]),
            // The row's last pair of blocks, cut by its end.
            None => {
                let mut px = [0u8; PAIR];
                px[..row.len() - x].copy_from_slice(&row[x..]);
                px
            }
        };
        let b = x / BLOCK;
        let t = |b: usize| thresholds.get(b).map_or([0; BLOCK], |&t| [t; BLOCK]);
        let mut ts = [0u8; PAIR];
        ts[..BLOCK].copy_from_slice(&t(b));
        ts[BLOCK..].copy_from_slice(&t(b + 1));
        let (px, ts) = (u8x16::new(px), u8x16::new(ts));
        m |= u64::from(px.min(ts).simd_eq(px).to_bitmask()) << (k * PAIR);
    }
    m
}

/// A way to see a frame as dark and light: [`binarize`] or [`binarize_local_mean`].
pub(super) type Binarizer = for<'a> fn(&Frame<'a>) -> Option<Bits<'a>>;

/// `None` for frames smaller than 5×5 blocks, where a local mean means nothing.
pub(super) fn binarize<'a>(f: &Frame<'a>) -> Option<Bits<'a>> {
    let (w, h) = (f.width(), f.height());
    if w < BLOCK * 5 || h < BLOCK * 5 {
        return None;
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let (levels, levels_inverted) = block_levels(f, bw, bh, flat_range(f));
    let (normal, inverted) = (thresholds(&levels, bw, bh), thresholds(&levels_inverted, bw, bh));
    Some(Bits { width: w, height: h, frame: *f, thresholds: normal, thresholds_inverted: inverted, blocks_wide: bw, inverted: false, neighbour_readings: NEIGHBOUR_READINGS.into() })
}

/// The wide local mean's reading: dark where a pixel is clearly below
/// (by 5 %) the mean of the square of blocks around its own, about a fifth
/// of the frame's shorter side across, cut at the frame's edges (Bradley's
/// method, the mean taken per block). The fast path's 5×5 blocks and
/// flat-block rule follow light over ~40 px; this follows a gentler change
/// over ~140 px (at 720p) and sees contrast the flat rule calls paper.
/// A threshold a block, not a pixel (ADR 0031): the frame is read once for
/// the block sums, not once for a thresholded copy and again to binarise
/// that (~1.2 ms less work on a 720p frame). Read inverted, every pixel is
/// the other colour (a flat dark screen, at its own mean, reads as module
/// colour there: ADR 0025's mirrored rule for flat blocks is the fast
/// path's, not this step's).
pub(super) fn binarize_local_mean<'a>(f: &Frame<'a>) -> Option<Bits<'a>> {
    let (w, h) = (f.width(), f.height());
    if w < BLOCK * 5 || h < BLOCK * 5 {
        return None;
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let r = local_mean_radius(w, h);
    let sums = block_sums(f, bw, bh);
    // The blocks' sums as an integral image (u64: a 16,384-pixel square
    // frame sums past u32), one row and column of zeros in front.
    let mut integral = vec![0u64; (bw + 1) * (bh + 1)];
    for by in 0..bh {
        let mut row = 0u64;
        for bx in 0..bw {
            row += u64::from(sums[by * bw + bx]);
            integral[(by + 1) * (bw + 1) + bx + 1] = integral[by * (bw + 1) + bx + 1] + row;
        }
    }
    let at = |bx: usize, by: usize| integral[by * (bw + 1) + bx];
    // Pixels in blocks `0..b` along a side of `len` pixels.
    let pixels = |b: usize, len: usize| (b * BLOCK).min(len) as u64;
    let mut thresholds = vec![0u8; bw * bh];
    for by in 0..bh {
        let (y0, y1) = (by.saturating_sub(r), (by + r + 1).min(bh));
        let rows = pixels(y1, h) - pixels(y0, h);
        for bx in 0..bw {
            let (x0, x1) = (bx.saturating_sub(r), (bx + r + 1).min(bw));
            let sum = at(x1, y1) + at(x0, y0) - at(x1, y0) - at(x0, y1);
            let n = rows * (pixels(x1, w) - pixels(x0, w));
            // Dark when `p < 0.95 × sum / n`, i.e. `p × 20n < 19 × sum`: the
            // largest such p. (A window all black has none; its black
            // pixels read dark, as nothing there could make a code anyway.)
            let t = (19 * sum).saturating_sub(1) / (20 * n);
            thresholds[by * bw + bx] = t.min(255) as u8;
        }
    }
    Some(Bits { width: w, height: h, frame: *f, thresholds_inverted: thresholds.clone(), thresholds, blocks_wide: bw, inverted: false, neighbour_readings: NEIGHBOUR_READINGS.into() })
}

/// The local mean's window radius in blocks: a twelfth of the shorter side
/// in pixels, rounded to whole blocks (8 at 720p: 17 blocks, 136 px across,
/// about a fifth of the side). A sixteenth read 2 fewer frames on each
/// tuning seed, a tenth 1 to 2 fewer.
fn local_mean_radius(w: usize, h: usize) -> usize {
    ((w.min(h) / 12 + BLOCK / 2) / BLOCK).max(1)
}

/// Each block's sum of pixels (blocks at the right and bottom edges cut
/// by the frame, so holding fewer).
fn block_sums(f: &Frame<'_>, bw: usize, bh: usize) -> Vec<u32> {
    let (w, h) = (f.width(), f.height());
    let mut sums = vec![0u32; bw * bh];
    // Per column over a block row first (a plain loop over whole rows, which
    // the compiler vectorises; eight pixels fit a u16), then per block.
    let mut columns = vec![0u16; w];
    for by in 0..bh {
        columns.fill(0);
        for y in by * BLOCK..((by + 1) * BLOCK).min(h) {
            for (c, &p) in columns.iter_mut().zip(f.row(y)) {
                *c += u16::from(p);
            }
        }
        for (s, block) in sums[by * bw..(by + 1) * bw].iter_mut().zip(columns.chunks(BLOCK)) {
            *s = block.iter().map(|&c| u32::from(c)).sum();
        }
    }
    sums
}

/// Each block's threshold: the mean level of the 5×5 blocks around it
/// (moved in from the edges so every window is whole). Sums of five down
/// each column, then of five of those along the row: each window's 25
/// levels are added once per row and column, not once per block.
fn thresholds(levels: &[u8], bw: usize, bh: usize) -> Vec<u8> {
    // `binarize` sees to at least 5×5 blocks.
    let mut thresholds = vec![0u8; bw * bh];
    let mut columns = vec![0u32; bw];
    let mut windows = vec![0u32; bw - 4];
    for cy in 2..bh - 2 {
        columns.fill(0);
        for row in levels[(cy - 2) * bw..(cy + 3) * bw].chunks_exact(bw) {
            for (c, &l) in columns.iter_mut().zip(row) {
                *c += u32::from(l);
            }
        }
        for (w, five) in windows.iter_mut().zip(columns.windows(5)) {
            *w = five.iter().sum();
        }
        // Block rows at the top and bottom edges share the nearest whole window's row.
        let rows = if cy == 2 { 0 } else { cy }..if cy == bh - 3 { bh } else { cy + 1 };
        for by in rows {
            let out = &mut thresholds[by * bw..(by + 1) * bw];
            for (bx, t) in out.iter_mut().enumerate() {
                *t = (windows[bx.clamp(2, bw - 3) - 2] / 25) as u8;
            }
        }
    }
    thresholds
}

/// The range at or below which a block is flat: ZXing's 24 levels, or more
/// in a noisy frame. Noise of σ spreads the 32 pixels a block is judged on
/// over about 4σ; such a block taken for texture turns paper and background
/// into salt and pepper: a frame of it cost ten times the finder
/// cross-checks of a clean one, and the patterns it made hid real ones
/// (flat at 5σ, the tuning frames read 17 more codes of 883, and 8 more
/// (2 %) with the live camera's effort, in two thirds of the time; ADR
/// 0024). σ comes from the median difference of neighbouring pixels on
/// every sixteenth row (≈ 0.95σ for Gaussian noise; in a frame of ordinary
/// detail edges are too few of the pairs to move a median).
fn flat_range(f: &Frame<'_>) -> u8 {
    let mut hist = [0u32; 256];
    let mut n = 0u32;
    for y in (0..f.height()).step_by(16) {
        let row = f.row(y);
        for pair in row.windows(2) {
            hist[usize::from(pair[0].abs_diff(pair[1]))] += 1;
        }
        n += row.len() as u32 - 1;
    }
    let (mut acc, mut median) = (0u32, 0usize);
    while median < 255 && acc + hist[median] <= n / 2 {
        acc += hist[median];
        median += 1;
    }
    let sigma = median as f32 / 0.95;
    (sigma * NOISE_RANGE).clamp(f32::from(MIN_DYNAMIC_RANGE), MAX_FLAT_RANGE) as u8
}

/// Each block's level, for a dark code on light and for a light code on
/// dark: its mean, or for a flat block a guess that keeps the background
/// on its side and the code on the other next to a block with contrast.
/// Read a block row at a time, whole pixel rows at once, so the loops stay
/// simple and fast.
fn block_levels(f: &Frame<'_>, bw: usize, bh: usize, flat: u8) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (f.width(), f.height());
    let mut levels = vec![0u8; bw * bh];
    let mut levels_inv = vec![0u8; bw * bh];
    let whole = w / BLOCK;
    let (mut sum, mut min, mut max) = (vec![0u32; bw], vec![u8::MAX; bw], vec![0u8; bw]);
    // Per column first (simple loops over whole rows, which the compiler
    // vectorises), then per block of eight columns.
    let (mut col_sum, mut col_min, mut col_max) = (vec![0u16; w], vec![u8::MAX; w], vec![0u8; w]);
    for by in 0..bh {
        // The last block row and column overlap their neighbours so every block is whole.
        let y0 = (by * BLOCK).min(h - BLOCK);
        col_sum.fill(0);
        col_min.fill(u8::MAX);
        col_max.fill(0);
        // Every other row: half the reading, and a block's mean, darkest
        // and lightest pixel come out the same to within noise.
        for y in (y0..y0 + BLOCK).step_by(2) {
            let row = f.row(y);
            for (((s, lo), hi), &p) in col_sum.iter_mut().zip(col_min.iter_mut()).zip(col_max.iter_mut()).zip(row) {
                *s += u16::from(p);
                *lo = (*lo).min(p);
                *hi = (*hi).max(p);
            }
        }
        for bx in 0..bw {
            let x0 = if bx < whole { bx * BLOCK } else { w - BLOCK };
            let cols = x0..x0 + BLOCK;
            sum[bx] = col_sum[cols.clone()].iter().map(|&v| u32::from(v)).sum();
            min[bx] = col_min[cols.clone()].iter().copied().min().unwrap_or(0);
            max[bx] = col_max[cols].iter().copied().max().unwrap_or(0);
        }
        for bx in 0..bw {
            let mean = (sum[bx] / (BLOCK * BLOCK / 2) as u32) as u8;
            let (mut level, mut level_inv) = (mean, mean);
            if max[bx] - min[bx] <= flat {
                // Flat: take it for the background (all of it on one side
                // of its level) unless the neighbours already seen say it
                // is on the code's side of them. Behind a dark code the
                // background is light paper; behind a light code on a dark
                // screen, the screen. Paper alone (ZXing's rule) turned the
                // dark screen around a dark-mode code into modules: no
                // finder pattern kept its quiet zone (seed 5: 54 of 126
                // dark-mode frames read with paper alone, 80 with both).
                let neighbours = |levels: &[u8]| {
                    let at = |y: usize, x: usize| u32::from(levels[y * bw + x]);
                    (by > 0 && bx > 0).then(|| ((at(by - 1, bx) + 2 * at(by, bx - 1) + at(by - 1, bx - 1)) / 4) as u8)
                };
                level = match neighbours(&levels) {
                    Some(n) if min[bx] < n => n,
                    _ => min[bx] / 2,
                };
                level_inv = match neighbours(&levels_inv) {
                    Some(n) if max[bx] > n => n,
                    _ => max[bx] + (255 - max[bx]) / 2,
                };
            }
            levels[by * bw + bx] = level;
            levels_inv[by * bw + bx] = level_inv;
        }
    }
    (levels, levels_inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_threshold_is_the_mean_of_the_whole_window_nearest_its_block() {
        for (bw, bh) in [(5, 5), (7, 9), (13, 6), (160, 90)] {
            let levels: Vec<u8> = (0..bw * bh).map(|i| ((i as u32).wrapping_mul(2654435761) >> 24) as u8).collect();
            let t = thresholds(&levels, bw, bh);
            for by in 0..bh {
                for bx in 0..bw {
                    let (cx, cy) = (bx.clamp(2, bw - 3), by.clamp(2, bh - 3));
                    let sum: u32 = (cy - 2..=cy + 2).flat_map(|y| (cx - 2..=cx + 2).map(move |x| (x, y))).map(|(x, y)| u32::from(levels[y * bw + x])).sum();
                    assert_eq!(t[by * bw + bx], (sum / 25) as u8, "{bw}x{bh} block ({bx},{by})");
                }
            }
        }
    }

    #[test]
    fn the_local_mean_threshold_is_95_percent_of_the_window_around_each_block() {
        // Seeded pixels; frames whose sides are not whole blocks (the last
        // blocks cut by the edge), wider than tall and taller than wide, and
        // the smallest accepted (a window of 3 blocks in a frame of 5).
        for (w, h) in [(83usize, 61usize), (200, 45), (45, 130), (40, 40), (333, 207)] {
            let px: Vec<u8> = (0..w * h).map(|i| ((i as u32).wrapping_mul(2654435761).rotate_left(9).wrapping_mul(40503) >> 24) as u8).collect();
            let frame = Frame::new(&px, w, h, w).unwrap();
            let bits = binarize_local_mean(&frame).unwrap();
            let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
            let r = local_mean_radius(w, h);
            assert_eq!(r, if (w, h) == (333, 207) { 2 } else { 1 }, "{w}x{h}");
            for by in 0..bh {
                for bx in 0..bw {
                    // The window's pixels, by the plain definition.
                    let ys = by.saturating_sub(r) * BLOCK..((by + r + 1) * BLOCK).min(h);
                    let xs = bx.saturating_sub(r) * BLOCK..((bx + r + 1) * BLOCK).min(w);
                    let n = (ys.len() * xs.len()) as u64;
                    let sum: u64 = ys.flat_map(|y| xs.clone().map(move |x| (x, y))).map(|(x, y)| u64::from(px[y * w + x])).sum();
                    for p in 0..=255u64 {
                        let dark = p * 20 * n < sum * 19;
                        assert_eq!(u64::from(bits.thresholds[by * bw + bx]) >= p, dark, "{w}x{h} block ({bx},{by}) level {p}");
                    }
                }
            }
            // Read inverted, every pixel is the other colour.
            let inverted = bits.inverted();
            assert!((0..h).all(|y| (0..w).all(|x| bits.dark(x, y) != inverted.dark(x, y))));
        }
    }

    #[test]
    fn the_local_mean_follows_uneven_light_and_sees_faint_contrast() {
        // Module-sized dark squares (a checkerboard of 6 px cells) under
        // light that brightens from left to right, at 20 % contrast: a dark
        // cell on the right is brighter than a light cell on the left, so
        // no global threshold separates them, and each cell's contrast is
        // under the fast path's flat range once the light is dim.
        let (w, h) = (200usize, 200usize);
        let px: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let bg = 60 + (x * 150 / w) as u8;
                if (x / 6 + y / 6) % 2 == 0 { bg - bg / 5 } else { bg }
            })
            .collect();
        assert!(px[3 * w + 189] > px[3 * w + 9], "the right dark cell outshines the left light cell");
        let bits = binarize_local_mean(&Frame::new(&px, w, h, w).unwrap()).unwrap();
        for y in (1..h).step_by(6) {
            for x in (1..w).step_by(3) {
                assert_eq!(bits.dark(x, y), (x / 6 + y / 6) % 2 == 0, "({x},{y})");
            }
        }
        // The fast path's own reading calls the dim left-hand cells paper.
        let plain = binarize(&Frame::new(&px, w, h, w).unwrap()).unwrap();
        let wrong = (1..h).step_by(6).flat_map(|y| (1..40).step_by(3).map(move |x| (x, y))).filter(|&(x, y)| plain.dark(x, y) != ((x / 6 + y / 6) % 2 == 0)).count();
        assert!(wrong > 50, "the fast path misreads the dim cells: {wrong} wrong");
        assert!(binarize_local_mean(&Frame::new(&px[..39 * w], w, 39, w).unwrap()).is_none(), "under 5 blocks a side");
    }

    #[test]
    fn dark_ink_on_uneven_paper_comes_out_dark() {
        // A gradient from 90 to 250 with a dark square in the brighter half.
        let (w, h) = (80, 60);
        let mut px: Vec<u8> = (0..w * h).map(|i| (90 + (i % w) * 2) as u8).collect();
        for y in 20..40 {
            for x in 50..70 {
                px[y * w + x] = ((90 + x * 2) / 3) as u8;
            }
        }
        let bits = binarize(&Frame::new(&px, w, h, w).unwrap()).unwrap();
        assert!(bits.dark(60, 30), "the square is ink");
        assert!(!bits.dark(60, 5) && !bits.dark(10, 5), "paper stays light in light and shade");
        // Read inverted, flat paper is still the background.
        assert!(!bits.inverted().dark(10, 5));
    }

    #[test]
    fn a_dark_screen_around_a_light_code_is_background_read_inverted() {
        // A dark screen at 40 (flat, no noise) with a light-on-dark finder
        // pattern of 6 px modules at (80, 60): light ring, dark ring, light
        // centre. Read inverted, the pattern is dark-light-dark and the
        // screen around it light, as the quiet zone of a printed code is.
        let (w, h, m) = (200usize, 160usize, 6usize);
        let px: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let inside = (80..80 + 7 * m).contains(&x) && (60..60 + 7 * m).contains(&y);
                let ring = || ((x - 80) / m).abs_diff(3).max(((y - 60) / m).abs_diff(3));
                if inside && ring() != 2 { 200 } else { 40 }
            })
            .collect();
        let frame = Frame::new(&px, w, h, w).unwrap();
        let bits = binarize(&frame).unwrap().inverted();
        // Module (3, 3) is the centre, (3, 1) the dark ring, (3, 0) the light one.
        let at = |mx: usize, my: usize| (80 + mx * m + m / 2, 60 + my * m + m / 2);
        for (module, dark) in [((3, 3), true), ((3, 1), false), ((3, 0), true), ((0, 3), true), ((5, 3), false)] {
            let (x, y) = at(module.0, module.1);
            assert_eq!(bits.dark(x, y), dark, "module {module:?}");
        }
        // The screen before the pattern (above and to the left, where the
        // flat blocks have no contrast seen yet) and after it.
        for (x, y) in [(5, 5), (40, 80), (100, 20), (190, 150), (150, 80)] {
            assert!(!bits.dark(x, y), "the screen at ({x}, {y}) reads light");
        }
    }

    /// Runs rebuilt pixel by pixel from `dark`: light first, maybe empty.
    fn runs_by_pixel(bits: &Bits<'_>, y: usize) -> Vec<u32> {
        let mut runs = vec![0u32];
        let mut dark = false;
        for x in 0..bits.width {
            if bits.dark(x, y) != dark {
                dark = !dark;
                runs.push(0);
            }
            *runs.last_mut().unwrap() += 1;
        }
        runs
    }

    #[test]
    fn runs_match_the_pixels_inverted_or_not() {
        // Rows that start dark, start light, and are all one colour.
        let (w, h) = (67, 48);
        let px: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                match y {
                    0..=7 => 200,
                    8..=15 => 20,
                    _ => if ((x * 7 + y * 3) / 5 + y / 4) % 3 == 0 { 30 } else { 210 },
                }
            })
            .collect();
        let frame = Frame::new(&px, w, h, w).unwrap();
        let mut runs = Vec::new();
        // Each row read twice each way, in either order: a reading keeps
        // no state between rows.
        for first_inverted in [true, false] {
            let bits = binarize(&frame).unwrap();
            let inverted = bits.inverted();
            for y in 0..h {
                let order = if (y % 2 == 0) == first_inverted { [&inverted, &bits] } else { [&bits, &inverted] };
                for b in order.into_iter().chain(order) {
                    b.runs_into(y, &mut runs);
                    assert_eq!(runs, runs_by_pixel(b, y), "row {y}, inverted {}", b.inverted);
                    assert_eq!(runs.iter().sum::<u32>() as usize, w);
                }
            }
        }
    }

    #[test]
    fn runs_of_a_part_of_a_row_match_its_pixels() {
        // Seeded noise, and every block given its own seeded threshold, so
        // that a pixel compared with a neighbouring block's would show.
        // Parts that start and end inside a block, on a block's edge, at the
        // frame's edges, one pixel long inside a block, across the edges of
        // the 64-pixel words rows are read in (and through a whole middle
        // word), and past the frame's right edge. Widths: not a whole
        // number of blocks (83), ending inside the second block of a
        // 16-pixel pair (93), a whole number of words (128), four words (200).
        let seeded = |i: usize, salt: u32| ((i as u32 ^ salt).wrapping_mul(2654435761).rotate_left(7).wrapping_mul(40503) >> 24) as u8;
        for w in [83usize, 93, 128, 200] {
            let h = 44;
            let px: Vec<u8> = (0..w * h).map(|i| seeded(i, 0)).collect();
            let frame = Frame::new(&px, w, h, w).unwrap();
            let plain = binarize(&frame).unwrap();
            let n = plain.thresholds.len();
            let plain = Bits { thresholds: (0..n).map(|i| seeded(i, 77)).collect(), thresholds_inverted: (0..n).map(|i| seeded(i, 91)).collect(), ..plain };
            let parts = [(0, w), (3, 61), (8, 16), (5, 13), (42, 43), (40, 41), (70, w), (0, 7), (17, w + 50), (60, 70), (63, 65), (64, 80), (1, w - 1), (62, 130), (w - 1, w), (w - 9, w + 3)];
            let mut runs = Vec::new();
            for bits in [plain.inverted(), plain] {
                for y in 0..h {
                    for (x0, x1) in parts.into_iter().filter(|&(x0, _)| x0 < w) {
                        bits.runs_between(y, x0, x1, &mut runs);
                        let mut expected = vec![0u32];
                        let mut dark = false;
                        for x in x0..x1.min(w) {
                            if bits.dark(x, y) != dark {
                                dark = !dark;
                                expected.push(0);
                            }
                            *expected.last_mut().unwrap() += 1;
                        }
                        assert_eq!(runs, expected, "width {w}, row {y}, {x0}..{x1}, inverted {}", bits.inverted);
                    }
                    bits.runs_between(y, 30, 30, &mut runs);
                    assert!(runs.is_empty(), "an empty part has no runs");
                }
            }
        }
    }

    #[test]
    fn noise_on_paper_stays_light_and_ink_stays_dark() {
        // Paper at 160 with sensor noise of σ ≈ 10 (a sum of four seeded
        // uniforms), a block of ink at 60 in the middle.
        let (w, h) = (240, 240);
        let mut state = 0x9E37_79B9u32;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f32::from((state >> 24) as u8) / 255.0 - 0.5
        };
        let px: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let base = if (100..140).contains(&x) && (100..140).contains(&y) { 60.0 } else { 160.0 };
                let noise = (uniform() + uniform() + uniform() + uniform()) * 10.0 / 0.577;
                (base + noise).clamp(0.0, 255.0) as u8
            })
            .collect();
        let frame = Frame::new(&px, w, h, w).unwrap();
        let range = flat_range(&frame);
        assert!((40..=60).contains(&range), "σ ≈ 10 makes flat up to ~50 levels, got {range}");
        let bits = binarize(&frame).unwrap();
        let speckles = |bits: &Bits<'_>| (0..w).flat_map(|x| (0..40).map(move |y| (x, y))).filter(|&(x, y)| bits.dark(x, y)).count();
        assert!(speckles(&bits) < w * 40 / 100, "paper far from the ink is light: {} dark of {}", speckles(&bits), w * 40);
        assert!((105..135).all(|i| bits.dark(i, i)), "the ink is dark");
        // ZXing's fixed 24 levels turn the same paper into salt and pepper.
        let fixed = Bits { thresholds: fixed_thresholds(&frame, MIN_DYNAMIC_RANGE), ..bits.clone() };
        assert!(speckles(&fixed) > w * 40 / 10, "{} dark of {}", speckles(&fixed), w * 40);
    }

    fn fixed_thresholds(f: &Frame<'_>, range: u8) -> Vec<u8> {
        let (bw, bh) = (f.width().div_ceil(BLOCK), f.height().div_ceil(BLOCK));
        let levels = block_levels(f, bw, bh, range).0;
        thresholds(&levels, bw, bh)
    }

    #[test]
    fn small_frames_are_left_to_the_other_steps() {
        let px = vec![0u8; 30 * 30];
        assert!(binarize(&Frame::new(&px, 30, 30, 30).unwrap()).is_none());
    }
}
