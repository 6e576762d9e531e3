//! Local-average binarisation: the frame cut into 8×8 blocks, each pixel
//! compared with the mean of the 5×5 blocks around its own. The same idea as
//! ZXing's hybrid binariser: it copes with uneven light (a card half in the
//! tent's shade) in two passes over the frame and no floating point.

use super::Frame;

const BLOCK: usize = 8;
/// Blocks whose darkest and lightest pixels differ by less than this are
/// flat (all paper or all ink): their level is guessed from their neighbours.
const MIN_DYNAMIC_RANGE: u8 = 24;

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
}

impl Bits<'_> {
    /// Row `y` as run lengths, alternating light and dark and starting with
    /// light (a row that starts dark starts with an empty light run), into
    /// `runs`; `line` is scratch space. Reused between rows.
    pub fn runs_into(&self, y: usize, line: &mut Vec<u8>, runs: &mut Vec<u32>) {
        let w = self.width;
        line.resize(w, 0);
        let thresholds = &self.thresholds[(y / BLOCK) * self.blocks_wide..][..self.blocks_wide];
        let flip = u8::from(self.inverted);
        let row = self.frame.row(y);
        let whole = w / BLOCK;
        for bx in 0..whole {
            let t = thresholds[bx];
            let src = &row[bx * BLOCK..bx * BLOCK + BLOCK];
            let dst = &mut line[bx * BLOCK..bx * BLOCK + BLOCK];
            for i in 0..BLOCK {
                dst[i] = u8::from(src[i] <= t) ^ flip;
            }
        }
        for x in whole * BLOCK..w {
            line[x] = u8::from(row[x] <= thresholds[self.blocks_wide - 1]) ^ flip;
        }
        runs.clear();
        let mut start = 0usize;
        if line[0] != 0 {
            runs.push(0);
        }
        // Where a pixel differs from the one before it, eight at a time:
        // the bytes are 0 or 1, so a set byte of `a ^ b` is a transition.
        let mut x = 1usize;
        while x + 8 <= w {
            let a = u64::from_le_bytes(line[x..x + 8].try_into().unwrap_or([0; 8]));
            let b = u64::from_le_bytes(line[x - 1..x + 7].try_into().unwrap_or([0; 8]));
            let mut d = a ^ b;
            while d != 0 {
                let at = x + (d.trailing_zeros() / 8) as usize;
                runs.push((at - start) as u32);
                start = at;
                d &= d - 1;
            }
            x += 8;
        }
        while x < w {
            if line[x] != line[x - 1] {
                runs.push((x - start) as u32);
                start = x;
            }
            x += 1;
        }
        runs.push((w - start) as u32);
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

    /// Light and dark swapped, for codes shown light on dark (dark-mode screens).
    pub fn inverted(&self) -> Self {
        Bits { inverted: !self.inverted, ..self.clone() }
    }
}

/// `None` for frames smaller than 5×5 blocks, where a local mean means nothing.
pub(super) fn binarize<'a>(f: &Frame<'a>) -> Option<Bits<'a>> {
    let (w, h) = (f.width(), f.height());
    if w < BLOCK * 5 || h < BLOCK * 5 {
        return None;
    }
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let levels = block_levels(f, bw, bh);
    let mut thresholds = vec![0u8; bw * bh];
    for by in 0..bh {
        let cy = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let cx = bx.clamp(2, bw - 3);
            let mut sum = 0u32;
            for ny in cy - 2..=cy + 2 {
                sum += levels[ny * bw + cx - 2..=ny * bw + cx + 2].iter().map(|&l| u32::from(l)).sum::<u32>();
            }
            thresholds[by * bw + bx] = (sum / 25) as u8;
        }
    }
    Some(Bits { width: w, height: h, frame: *f, thresholds, blocks_wide: bw, inverted: false })
}

/// Each block's level: its mean, or for a flat block a guess that keeps
/// paper light and ink dark next to a block with contrast. Read a block row
/// at a time, whole pixel rows at once, so the loops stay simple and fast.
fn block_levels(f: &Frame<'_>, bw: usize, bh: usize) -> Vec<u8> {
    let (w, h) = (f.width(), f.height());
    let mut levels = vec![0u8; bw * bh];
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
            let mut level = (sum[bx] / (BLOCK * BLOCK / 2) as u32) as u8;
            if max[bx] - min[bx] <= MIN_DYNAMIC_RANGE {
                // Flat: assume paper (level below every pixel) unless the
                // neighbours already seen say this is darker than them.
                level = min[bx] / 2;
                if by > 0 && bx > 0 {
                    let up = u32::from(levels[(by - 1) * bw + bx]);
                    let left = u32::from(levels[by * bw + bx - 1]);
                    let diag = u32::from(levels[(by - 1) * bw + bx - 1]);
                    let neighbours = ((up + 2 * left + diag) / 4) as u8;
                    if min[bx] < neighbours {
                        level = neighbours;
                    }
                }
            }
            levels[by * bw + bx] = level;
        }
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(bits.inverted().dark(10, 5));
    }

    #[test]
    fn small_frames_are_left_to_the_other_steps() {
        let px = vec![0u8; 30 * 30];
        assert!(binarize(&Frame::new(&px, 30, 30, 30).unwrap()).is_none());
    }
}
