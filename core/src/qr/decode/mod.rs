//! Frames → QR codes. Input is what Android's camera gives: a luma plane
//! (`&[u8]`, width, height, row stride), read in place. The fast path
//! (finder patterns counted along rows, the grid sampled through a
//! perspective transform, rqrr's error correction) reads the frame; with
//! the full effort it reads gentler variants of the frame too (half size,
//! smoothed, stretched, thresholded on a wide window), also to look for
//! more codes when a frame shows finder patterns outside the codes read.
//! Every step is named in `Code::step`.

mod binarize;
mod finder;
mod grid;
pub mod legacy;
mod pool;
mod steps;
mod text;
mod timing;

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;

pub use steps::Luma;
pub use text::{bytes_to_text, bytes_to_text_with, Charset};

/// Frames beyond this many pixels a side are refused rather than allocated.
const MAX_SIDE: usize = 16_384;
/// The smallest QR code (version 1) is 21 modules: nothing smaller can hold one.
const MIN_SIDE: usize = 21;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame: width and height must be {MIN_SIDE}..={MAX_SIDE} pixels, got {width}x{height}")]
    Size { width: usize, height: usize },
    #[error("frame: row stride {stride} is smaller than the width {width}")]
    Stride { stride: usize, width: usize },
    #[error("frame: {needed} bytes needed for {width}x{height} with stride {stride}, got {got}")]
    Short { needed: usize, got: usize, width: usize, height: usize, stride: usize },
}

/// A borrowed luma plane. Rows may be padded (`stride ≥ width`), as camera
/// planes often are; the last row needs only `width` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
}

impl<'a> Frame<'a> {
    pub fn new(data: &'a [u8], width: usize, height: usize, stride: usize) -> Result<Self, FrameError> {
        if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
            return Err(FrameError::Size { width, height });
        }
        if stride < width {
            return Err(FrameError::Stride { stride, width });
        }
        let needed = stride * (height - 1) + width;
        if data.len() < needed {
            return Err(FrameError::Short { needed, got: data.len(), width, height, stride });
        }
        Ok(Frame { data, width, height, stride })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.stride + x]
    }

    /// Row `y`'s `width` pixels.
    #[inline]
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

/// One code found in a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// The payload bytes exactly as the symbol carries them.
    pub bytes: Vec<u8>,
    /// The payload as text, converted from its character set.
    pub text: String,
    pub charset: Charset,
    /// QR version (1-40).
    pub version: u8,
    /// Corners in frame coordinates: top-left, top-right, bottom-right, bottom-left.
    pub corners: [(i32, i32); 4],
    /// The pipeline step that read it (for tuning and benchmarks).
    pub step: &'static str,
}

/// How hard to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// The fast path only (about a millisecond on a 720p frame): for a live
    /// camera, where the next frame comes in a few tens of milliseconds.
    Quick,
    /// Every step: for a photo, or every few camera frames.
    Thorough,
}

/// Every code in the frame. Empty when none could be read; never panics.
pub fn decode(frame: &Frame<'_>) -> Vec<Code> {
    decode_with(frame, Effort::Thorough)
}

pub fn decode_with(frame: &Frame<'_>, effort: Effort) -> Vec<Code> {
    // The fast path first: most frames at a desk hold one clear code.
    let first = catch_unwind(AssertUnwindSafe(|| read_fast(frame, true, binarize::binarize)));
    let read_whole = first.is_ok();
    let (mut found, patterns) = first.unwrap_or_default();
    if effort == Effort::Quick || (!found.is_empty() && !maybe_more(&patterns, &found)) {
        return found;
    }
    // The fast path again on gentler versions of the frame (half size,
    // smoothed, stretched, thresholded on a wider window): each reads
    // codes the others miss, at a few milliseconds each. They replace
    // rqrr's detector on each variant, which cost ~20 ms a variant and
    // made a frame without a code cost ~200 ms. They run too when the fast
    // path read a code but saw finder patterns outside it: the second code
    // of a frame is often one that only another step reads.
    //
    // Light-on-dark codes are looked for in the variants only where the
    // frame's own inverted reading saw a finder pattern, where it did not
    // run (the fast path read a code, or gave up on the frame), or where
    // the variant lifts a contrast too low for that reading to see one. On
    // two tuning seeds (800 frames) that read the same codes by the same
    // steps as an inverted reading of every variant, in less time (README).
    let invert = !read_whole || !found.is_empty() || !patterns.is_empty();
    let mut variants = steps::Variants::new(frame);
    for step in steps::Step::ALL {
        let Some((img, scale)) = variants.prepare(step) else { continue };
        let Ok(variant) = Frame::new(&img.px, img.width, img.height, img.width) else { continue };
        let (codes, patterns) = catch_unwind(AssertUnwindSafe(|| read_fast(&variant, invert || step.lifts_contrast(), step.binarizer()))).unwrap_or_default();
        let before = found.len();
        for c in codes {
            push_new(&mut found, Code { corners: c.corners.map(|(x, y)| ((x as f32 * scale) as i32, (y as f32 * scale) as i32)), step: step.name(), ..c });
        }
        // A step that read nothing new, or read a code but saw patterns
        // that no code read so far accounts for, leaves the next steps to
        // look for the others.
        let patterns: Vec<finder::Point> = patterns.iter().map(|p| finder::Point { x: p.x * scale, y: p.y * scale }).collect();
        if found.len() > before && !maybe_more(&patterns, &found) {
            return found;
        }
    }
    // rqrr's detector once ran here: on what no variant read (it read
    // none of 1,848 seeded field frames and none of the 358 sample pictures
    // once the fast path followed timing patterns, at ~5 ms a 720p frame),
    // and for the other codes of a frame where one was read (one more code
    // in ~200 two-code frames once the variant steps looked for them too,
    // for 40 % on the full effort's p95).
    found
}

/// Whether confirmed finder patterns lie outside every code read: two or
/// more may be another code's. A lone one is most often a look-alike in
/// the card's print. (On the tuning frames, asking for one or for two read
/// the same codes; counting patterns seen on one row only as well cost the
/// median frame ~50 % more for no more codes read.)
fn maybe_more(patterns: &[finder::Point], read: &[Code]) -> bool {
    patterns.iter().filter(|p| !read.iter().any(|c| inside(&c.corners, p.x, p.y))).count() >= 2
}

/// `code` after `codes`, unless a code of the same bytes is there already.
fn push_new(codes: &mut Vec<Code>, code: Code) {
    if !codes.iter().any(|c| c.bytes == code.bytes) {
        codes.push(code);
    }
}

/// Our finder-pattern search on the binarised frame (then, with `invert`,
/// on it inverted, for light-on-dark screens), rqrr's decoder on the
/// sampled grid. Also gives the finder patterns confirmed on the way (both
/// readings' when the inverted one read the codes), so that `decode` looks
/// for other codes when some lie outside them.
fn read_fast(frame: &Frame<'_>, invert: bool, binarize: binarize::Binarizer) -> (Vec<Code>, Vec<finder::Point>) {
    let Some(bits) = binarize(frame) else { return (Vec::new(), Vec::new()) };
    let (codes, mut patterns) = read_bits(&bits, "finder");
    if !codes.is_empty() || !invert {
        return (codes, patterns);
    }
    // A dark-mode screen beside a printed card: the card's patterns are
    // seen only in the plain reading, and may be a code still to read.
    let (codes, inverted) = read_bits(&bits.inverted(), "finder-inverted");
    if codes.is_empty() {
        return (codes, inverted);
    }
    patterns.extend(inverted);
    (codes, patterns)
}

fn read_bits(bits: &binarize::Bits<'_>, step: &'static str) -> (Vec<Code>, Vec<finder::Point>) {
    let mut scan = finder::Scan::new(bits);
    let mut tried = Vec::new();
    let quick = scan.next(true);
    let codes = read_triples(bits, &quick.triples, step, Vec::new(), &mut tried);
    if !quick.stopped_early {
        return (codes, quick.confirmed);
    }
    // The scan stopped at the first three patterns: the rest of the frame
    // may hold the patterns of this code (when those three did not make
    // it) or of others (a CCCD beside a phone's PC-Covid code).
    let full = scan.next(false);
    (read_triples(bits, &full.triples, step, codes, &mut tried), full.confirmed)
}

/// Every code the triples make, after those already read; a triple with a
/// pattern inside a code already read is that code's (or a mix) and skipped,
/// and so is one already `tried` (its centres since refined by a few rows).
fn read_triples(bits: &binarize::Bits<'_>, triples: &[finder::Finders], step: &'static str, mut codes: Vec<Code>, tried: &mut Vec<finder::Finders>) -> Vec<Code> {
    for f in triples {
        let inside_read = [f.top_left, f.top_right, f.bottom_left].iter().any(|p| codes.iter().any(|c| inside(&c.corners, p.x, p.y)));
        if inside_read || tried.iter().any(|t| t.same_as(f)) {
            continue;
        }
        tried.push(*f);
        if let Some(code) = read_triple(bits, f, step) {
            push_new(&mut codes, code);
        }
    }
    codes
}

/// Whether (x, y) is inside the convex quadrilateral `q`.
fn inside(q: &[(i32, i32); 4], x: f32, y: f32) -> bool {
    let mut sign = 0.0f32;
    for i in 0..4 {
        let (ax, ay) = (q[i].0 as f32, q[i].1 as f32);
        let (bx, by) = (q[(i + 1) % 4].0 as f32, q[(i + 1) % 4].1 as f32);
        let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        if cross != 0.0 {
            if sign != 0.0 && cross.signum() != sign {
                return false;
            }
            sign = cross.signum();
        }
    }
    true
}

fn read_triple(bits: &binarize::Bits<'_>, f: &finder::Finders, step: &'static str) -> Option<Code> {
    let f = &grid::square_up(bits, f);
    // The timing patterns first: they give the size exactly and the
    // perspective of a tilted card. Then sizes guessed from the finder
    // spacing, on a grid laid between the finders (and the alignment
    // pattern near the fourth corner), for codes whose timing rows are
    // too blurred or broken to follow.
    let by_timing = grid::place_by_timing(bits, f);
    if let Some(code) = by_timing.as_ref().and_then(|placed| read_placed(bits, placed, step)) {
        return Some(code);
    }
    for dim in grid::dimensions(bits, f) {
        let placed = grid::place(bits, f, dim);
        if let Some(code) = read_placed(bits, &placed, step) {
            return Some(code);
        }
    }
    None
}

fn read_placed(bits: &binarize::Bits<'_>, placed: &grid::Placement, step: &'static str) -> Option<Code> {
    // Not this size, or not a code at all (a triple of look-alikes in
    // printed text): rqrr would read it anyway, its format check passes
    // half of all random grids, so the timing rows decide. (A grid fitted
    // to both timing rows passes this by construction, one fitted to one
    // row mostly: there the walk's own checks and rqrr's error correction
    // are what sort it out.)
    // A large tilted code's grid may be bent by a wrong fourth corner: laid
    // again on its alignment patterns before it is given up.
    let relaid;
    let placed = if placed.timing_plausible(bits) {
        placed
    } else {
        relaid = placed.relaid(bits);
        relaid.as_ref()?
    };
    let (g, corners) = placed.sample(bits)?;
    let mut bytes = Vec::new();
    let meta = match rqrr::Grid::new(g).decode_to(&mut bytes) {
        Ok(meta) => meta,
        // Read the format but not the data: the grid is this code's, its
        // far modules are off or misread. Sample again on its alignment
        // patterns (each module moved by the patterns near it, else the grid
        // refitted to them all), then interpolated at the modules' centres,
        // against the threshold its known modules set (ADR 0034), shifted,
        // and against the neighbouring modules (ADR 0032).
        Err(rqrr::DeQRError::DataEcc | rqrr::DeQRError::DataUnderflow | rqrr::DeQRError::DataOverflow | rqrr::DeQRError::UnknownDataType | rqrr::DeQRError::EncodingError) => {
            read_refined(bits, placed, &mut bytes)?
        }
        Err(_) => return None,
    };
    let (text, charset) = bytes_to_text_with(&bytes, meta.eci);
    let corners = corners.map(|p| (p.x as i32, p.y as i32));
    Some(Code { bytes, text, charset, version: meta.version.0 as u8, corners, step })
}

/// The grid sampled again on its alignment patterns, into `bytes`, and on
/// them against the threshold its own known modules set (ADR 0034); failing
/// that, with each module's grey interpolated at its centre (ADR 0032's
/// amendment: 3 more codes on seed 11, none lost), that against its known
/// modules' threshold, then 0.3 of a pixel to each side. Which pixel a module's
/// centre falls in decides the module: where modules are under two pixels, or blurred into
/// their neighbours, centres placed a fraction of a pixel off read the wrong
/// pixel for many of them (on the tuning seeds 5, 7 and 11, 2 more codes of
/// ~870 read this way, one of 1.8-pixel modules and one defocused, none
/// lost). Last, each module against the modules around it rather than its
/// block's threshold (3 more codes on seed 7 and 3 on seed 11, defocused,
/// faint or under glare; none on seed 5, none lost; a few a reading). Only
/// grids whose timing rows and format read get here, so up to ten more
/// samplings and decodes for few grids (no time change seen on those seeds).
fn read_refined(bits: &binarize::Bits<'_>, placed: &grid::Placement, bytes: &mut Vec<u8>) -> Option<rqrr::MetaData> {
    let mut read = |g: Option<rqrr::SimpleGrid>| {
        let g = g.filter(grid::timing_plausible)?;
        bytes.clear();
        rqrr::Grid::new(g).decode_to(&mut *bytes).ok()
    };
    if let Some(anchors) = placed.alignment_offsets(bits) {
        if let Some(meta) = read(placed.sample_refined(bits, &anchors))
            .or_else(|| read(placed.sample_fitted(bits, &anchors)))
            .or_else(|| read(placed.sample_calibrated(bits, Some(&anchors))))
        {
            return Some(meta);
        }
    }
    const SHIFT: f32 = 0.3;
    read(placed.sample_interpolated(bits))
        .or_else(|| read(placed.sample_calibrated(bits, None)))
        .or_else(|| [(SHIFT, 0.0), (-SHIFT, 0.0), (0.0, SHIFT), (0.0, -SHIFT)].into_iter().find_map(|(dx, dy)| read(placed.sample_shifted(bits, dx, dy))))
        .or_else(|| read(placed.sample_by_neighbours(bits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_checks_name_the_problem() {
        let data = vec![0u8; 100 * 100];
        assert!(Frame::new(&data, 100, 100, 100).is_ok());
        assert!(matches!(Frame::new(&data, 10, 100, 100), Err(FrameError::Size { .. })));
        assert!(matches!(Frame::new(&data, 100, 100, 90), Err(FrameError::Stride { .. })));
        assert!(matches!(Frame::new(&data, 100, 101, 100), Err(FrameError::Short { .. })));
        // Padded rows: the last row need not be padded.
        let padded = vec![0u8; 128 * 99 + 100];
        assert!(Frame::new(&padded, 100, 100, 128).is_ok());
    }

    #[test]
    fn blank_and_noise_frames_decode_to_nothing() {
        let blank = vec![255u8; 320 * 240];
        assert!(decode(&Frame::new(&blank, 320, 240, 320).unwrap()).is_empty());
        let noise: Vec<u8> = (0..320u32 * 240).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
        assert!(decode(&Frame::new(&noise, 320, 240, 320).unwrap()).is_empty());
    }
}

