//! The fast path: find a code's three finder patterns by scanning rows of
//! the binarised frame for the 1:1:3:1:1 dark/light run they make (checked
//! again down the column and along the diagonal), look for the alignment
//! pattern where the three predict it, map the grid through a perspective
//! transform and read one bit per module. The bits go to rqrr's decoder,
//! which corrects errors and reads the payload.
//!
//! This is the method ZXing uses, written here for this frame type. It reads
//! a clear 720p frame in a fraction of the time rqrr's region-growing
//! detector takes; what it cannot find, the other steps still get.

use super::binarize::Bits;

/// Finder patterns seen on fewer rows than this are not trusted when
/// enough others are.
const QUORUM: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub x: f32,
    pub y: f32,
}

fn dist(a: Point, b: Point) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

#[derive(Debug, Clone, Copy)]
struct Center {
    at: Point,
    module: f32,
    count: u32,
}

impl Center {
    fn about_equals(&self, module: f32, x: f32, y: f32) -> bool {
        if (y - self.at.y).abs() <= module && (x - self.at.x).abs() <= module {
            let diff = (module - self.module).abs();
            return diff <= 1.0 || diff <= self.module;
        }
        false
    }

    fn combine(&self, module: f32, x: f32, y: f32) -> Center {
        let n = self.count as f32;
        Center {
            at: Point { x: (n * self.at.x + x) / (n + 1.0), y: (n * self.at.y + y) / (n + 1.0) },
            module: (n * self.module + module) / (n + 1.0),
            count: self.count + 1,
        }
    }
}

/// The three finder patterns of one code, and the module size they show.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finders {
    pub top_left: Point,
    pub top_right: Point,
    pub bottom_left: Point,
    pub module: f32,
}

impl Finders {
    /// The same three patterns, within half a module each.
    pub(super) fn same_as(&self, other: &Finders) -> bool {
        let near = |a: Point, b: Point| dist(a, b) <= self.module / 2.0;
        near(self.top_left, other.top_left) && near(self.top_right, other.top_right) && near(self.bottom_left, other.bottom_left)
    }
}

/// 1:1:3:1:1, judged the way ZXing-C++ judges it: dark runs against the
/// dark module size, light runs against the light one, each within ¾ (dark)
/// or ½ (light) of its module plus 2 pixels. Blur, ink spread and a threshold
/// off the middle widen every dark run and narrow every light one alike; a
/// size per colour absorbs that, and the 2 pixels what rounding does to
/// modules of 2–3 pixels. One module size for all five runs (ZXing's Java
/// port, and this decoder before) lost most blurred and low-contrast codes.
#[inline]
fn is_finder_runs(c: &[u32; 5]) -> bool {
    // Integers first: most runs of a row fail here, before any division.
    if c[2] < 2 * c[0].max(c[4]) || c[2] < c[1].max(c[3]) || c.iter().sum::<u32>() < 7 {
        return false;
    }
    let [a, b, m, d, e] = c.map(|n| n as f32);
    let dark = (a + m + e) / 5.0;
    let light = (b + d) / 2.0;
    if dark > 4.0 * light || light > 4.0 * dark {
        return false;
    }
    let (td, tl) = (dark * 0.75 + 2.0, light * 0.5 + 2.0);
    (a - dark).abs() <= td && (m - 3.0 * dark).abs() <= td && (e - dark).abs() <= td && (b - light).abs() <= tl && (d - light).abs() <= tl
}

fn center_from_end(c: &[u32; 5], end: usize) -> f32 {
    end as f32 - c[4] as f32 - c[3] as f32 - c[2] as f32 / 2.0
}

struct Search<'a> {
    bits: &'a Bits<'a>,
    centers: Vec<Center>,
    stopped_early: bool,
    /// The next row to read and the rows between reads, kept so that a
    /// scan that stopped at the first three patterns goes on from there.
    row: usize,
    skip: usize,
}

impl Search<'_> {
    /// Runs along a column or row through `(x, y)` (direction `(dx, dy)`),
    /// outward from the centre run: dark, light, dark each way. `max` bounds
    /// the outer runs so a long dark area does not pass for a pattern.
    fn runs_through(&self, x: i32, y: i32, dx: i32, dy: i32, max: u32) -> Option<[u32; 5]> {
        let b = self.bits;
        let mut c = [0u32; 5];
        let (mut px, mut py) = (x, y);
        while b.dark_at(px, py) {
            c[2] += 1;
            px -= dx;
            py -= dy;
        }
        if !b.in_bounds(px, py) {
            return None;
        }
        while b.in_bounds(px, py) && !b.dark_at(px, py) && c[1] <= max {
            c[1] += 1;
            px -= dx;
            py -= dy;
        }
        if !b.in_bounds(px, py) || c[1] > max {
            return None;
        }
        while b.dark_at(px, py) && c[0] <= max {
            c[0] += 1;
            px -= dx;
            py -= dy;
        }
        if c[0] > max {
            return None;
        }
        let (mut px, mut py) = (x + dx, y + dy);
        while b.dark_at(px, py) {
            c[2] += 1;
            px += dx;
            py += dy;
        }
        if !b.in_bounds(px, py) {
            return None;
        }
        while b.in_bounds(px, py) && !b.dark_at(px, py) && c[3] < max {
            c[3] += 1;
            px += dx;
            py += dy;
        }
        if !b.in_bounds(px, py) || c[3] >= max {
            return None;
        }
        while b.dark_at(px, py) && c[4] < max {
            c[4] += 1;
            px += dx;
            py += dy;
        }
        if c[4] >= max {
            return None;
        }
        Some(c)
    }

    /// Check a row sighting down its column, then along its row again, then
    /// on the diagonal; keep it (or strengthen a nearby one) if all agree.
    fn handle_possible_center(&mut self, c: &[u32; 5], row: usize, end: usize) -> bool {
        let total: u32 = c.iter().sum();
        let x = center_from_end(c, end);
        let max = c[2];
        let Some(v) = self.runs_through(x as i32, row as i32, 0, 1, max) else { return false };
        let vt: u32 = v.iter().sum();
        // A tilted code is shorter one way than the other: allow 2×.
        if vt * 2 < total || vt > total * 2 || !is_finder_runs(&v) {
            return false;
        }
        let Some(y) = self.column_center(x as i32, row as i32) else { return false };
        let Some(hz) = self.runs_through(x as i32, y as i32, 1, 0, max) else { return false };
        let ht: u32 = hz.iter().sum();
        if 10 * ht.abs_diff(total) >= 3 * total || !is_finder_runs(&hz) {
            return false;
        }
        let x = self.row_center(x as i32, y as i32).unwrap_or(x);
        match self.runs_through(x as i32, y as i32, 1, 1, max) {
            Some(d) if is_finder_runs(&d) => {}
            _ => return false,
        }
        let module = (ht as f32 + vt as f32) / 14.0;
        match self.centers.iter().position(|cn| cn.about_equals(module, x, y)) {
            Some(i) => self.centers[i] = self.centers[i].combine(module, x, y),
            None => self.centers.push(Center { at: Point { x, y }, module, count: 1 }),
        }
        true
    }

    /// The middle of the dark run through `(x, y)` down the column.
    fn column_center(&self, x: i32, y: i32) -> Option<f32> {
        let b = self.bits;
        if !b.dark_at(x, y) {
            return None;
        }
        let (mut top, mut bottom) = (y, y);
        while b.dark_at(x, top - 1) {
            top -= 1;
        }
        while b.dark_at(x, bottom + 1) {
            bottom += 1;
        }
        Some((top + bottom) as f32 / 2.0 + 0.5)
    }

    fn row_center(&self, x: i32, y: i32) -> Option<f32> {
        let b = self.bits;
        if !b.dark_at(x, y) {
            return None;
        }
        let (mut left, mut right) = (x, x);
        while b.dark_at(left - 1, y) {
            left -= 1;
        }
        while b.dark_at(right + 1, y) {
            right += 1;
        }
        Some((left + right) as f32 / 2.0 + 0.5)
    }

    /// Three patterns seen twice each, of nearly one module size: a code is
    /// found and the rest of the frame need not be scanned.
    fn have_three_confirmed(&self) -> bool {
        let confirmed: Vec<f32> = self.centers.iter().filter(|c| c.count >= QUORUM).map(|c| c.module).collect();
        if confirmed.len() < 3 {
            return false;
        }
        let total: f32 = confirmed.iter().sum();
        let average = total / confirmed.len() as f32;
        // Perspective makes the far patterns' modules smaller: allow 15 %.
        confirmed.iter().map(|m| (m - average).abs()).sum::<f32>() <= 0.15 * total
    }

    /// Scan rows for the run pattern, from where the last call stopped.
    /// With `early`, stops once [`Self::have_three_confirmed`]: most frames
    /// hold one code, read from those three; the rest of the frame is
    /// scanned only when they do not make a code or more codes may be there.
    fn scan(&mut self, early: bool) {
        let (w, h) = (self.bits.width, self.bits.height);
        self.stopped_early = false;
        let mut runs = Vec::with_capacity(w / 2);
        while self.row < h {
            let row = self.row;
            self.bits.runs_into(row, &mut runs);
            let mut found_here = false;
            // Dark runs are the odd ones; a candidate is five runs ending in
            // a dark one: dark, light, dark, light, dark.
            let mut end = 0usize;
            let mut earliest = 1usize;
            for (i, &r) in runs.iter().enumerate() {
                end += r as usize;
                if i % 2 == 0 || i < 5 || i - 4 < earliest {
                    continue;
                }
                let c = [runs[i - 4], runs[i - 3], runs[i - 2], runs[i - 1], runs[i]];
                if is_finder_runs(&c) && self.handle_possible_center(&c, row, end) {
                    found_here = true;
                    // The next pattern starts at a later dark run.
                    earliest = i + 2;
                }
            }
            // Look closer once something is seen, and stop when enough is.
            if found_here {
                self.skip = 2;
            }
            self.row += self.skip;
            if found_here && early && self.have_three_confirmed() {
                self.stopped_early = true;
                return;
            }
        }
    }
}

impl Bits<'_> {
    #[inline]
    pub(super) fn in_bounds(&self, x: i32, y: i32) -> bool {
        x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height
    }
}

/// What a search found: candidate triples of finder patterns, best first
/// (similar module sizes, the corners of a right isosceles triangle as
/// nearly as seen), the patterns seen on at least two rows, and whether
/// the scan stopped at the first three (so a full scan may find others).
pub(super) struct Found {
    pub triples: Vec<Finders>,
    pub confirmed: Vec<Point>,
    pub stopped_early: bool,
}

/// A finder-pattern search over one binarised frame, in two parts: up to
/// the first three patterns, then (when those did not make a code) on to
/// the end, without reading again the rows already read.
pub(super) struct Scan<'a> {
    search: Search<'a>,
}

impl<'a> Scan<'a> {
    pub(super) fn new(bits: &'a Bits<'a>) -> Self {
        // A row in three, in frames of any height (ZXing-C++ does the same
        // when trying harder): a finder pattern is 7 modules tall, so one of
        // 2 px modules is crossed on four or five rows. Fewer rows in tall
        // frames read 3 % fewer codes on the tuning frames.
        let skip = 3;
        Scan { search: Search { bits, centers: Vec::new(), stopped_early: false, row: skip - 1, skip } }
    }

    /// Scan on (to the first three patterns with `early`, else to the
    /// end) and rank the triples of every pattern seen so far.
    pub(super) fn next(&mut self, early: bool) -> Found {
        self.search.scan(early);
        let confirmed = self.search.centers.iter().filter(|c| c.count >= QUORUM).map(|c| c.at).collect();
        Found { triples: triples(self.search.centers.clone()), confirmed, stopped_early: self.search.stopped_early }
    }
}

fn triples(all: Vec<Center>) -> Vec<Finders> {
    let mut confirmed: Vec<Center> = all.iter().copied().filter(|c| c.count >= QUORUM).collect();
    let others = all.len() > confirmed.len();
    let mut out = triples_of(&mut confirmed);
    if out.is_empty() && others {
        // A pattern crossed by one row only (small, or blurred on the
        // others) still completes a code whose other two were confirmed.
        let mut all = all;
        out = triples_of(&mut all);
    }
    out
}

/// Triples that could be one code's finders, best first: module sizes
/// within 2× of each other, the two sides from the corner within 2× of each
/// other and at 45–135°, a module count that a code can have; ranked by how
/// near they come to a right isosceles triangle. As loose as ZXing-C++'s,
/// for tilted codes, whose far patterns are smaller and whose right angle
/// is seen at up to ±45°; the timing rows then sort out the look-alikes.
fn triples_of(centers: &mut Vec<Center>) -> Vec<Finders> {
    if centers.len() < 3 {
        return Vec::new();
    }
    // Too many candidates means noise (text, textures): keep the most seen.
    centers.sort_by_key(|c| std::cmp::Reverse(c.count));
    centers.truncate(16);
    centers.sort_by(|a, b| a.module.total_cmp(&b.module));
    // Distances scaled by the size ratio: under perspective the nearer
    // pattern is larger, so this evens out a slanted code's sides.
    let d2 = |a: &Center, b: &Center| {
        let (small, large) = if a.module <= b.module { (a, b) } else { (b, a) };
        dist(a.at, b.at).powi(2) * (large.module / small.module).powi(2)
    };
    let mut ranked: Vec<(f32, Finders)> = Vec::new();
    for i in 0..centers.len() {
        for j in i + 1..centers.len() {
            for k in j + 1..centers.len() {
                if centers[k].module > centers[i].module * 2.0 {
                    break;
                }
                let (a, b, c) = (&centers[i], &centers[j], &centers[k]);
                // The corner is opposite the longest side.
                let (ab, bc, ac) = (d2(a, b), d2(b, c), d2(a, c));
                let (long, s1, s2) = if bc >= ab && bc >= ac {
                    (bc, ab, ac)
                } else if ac >= ab && ac >= bc {
                    (ac, ab, bc)
                } else {
                    (ab, ac, bc)
                };
                let (l1, l2) = (s1.sqrt(), s2.sqrt());
                if l1 > 2.0 * l2 || l2 > 2.0 * l1 {
                    continue;
                }
                let module = (a.module + b.module + c.module) / 3.0;
                // Version 1 puts centres 14 modules apart; a row across a
                // turned pattern makes its module up to √2 long, so from 9.
                let modules = (l1 + l2) / (2.0 * module) + 7.0;
                if !(16.0..=177.0 * 1.5).contains(&modules) {
                    continue;
                }
                let cos = (s1 + s2 - long) / (2.0 * l1 * l2);
                if !(-std::f32::consts::FRAC_1_SQRT_2..=std::f32::consts::FRAC_1_SQRT_2).contains(&cos) {
                    continue;
                }
                let score = ((long - 2.0 * s1).abs() + (long - 2.0 * s2).abs()) / long.max(1.0);
                ranked.push((score, order(a.at, b.at, c.at, module)));
            }
        }
    }
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    ranked.into_iter().take(8).map(|t| t.1).collect()
}

/// Which pattern is which: top-left is opposite the longest side; the
/// turn from it to the other two tells top-right from bottom-left.
fn order(a: Point, b: Point, c: Point, module: f32) -> Finders {
    let (ab, bc, ac) = (dist(a, b), dist(b, c), dist(a, c));
    let (mut p, tl, mut q) = if bc >= ab && bc >= ac {
        (b, a, c)
    } else if ac >= ab && ac >= bc {
        (a, b, c)
    } else {
        (a, c, b)
    };
    // Cross product sign: with y pointing down, bottom-left is clockwise.
    let cross = (q.x - tl.x) * (p.y - tl.y) - (q.y - tl.y) * (p.x - tl.x);
    if cross < 0.0 {
        std::mem::swap(&mut p, &mut q);
    }
    Finders { top_left: tl, top_right: q, bottom_left: p, module }
}

/// The alignment pattern near `(x, y)`: a 1:1:1 light-dark-light run in a
/// window of `allowance` pixels, confirmed down the column.
pub(super) fn alignment(bits: &Bits<'_>, module: f32, x: f32, y: f32, allowance: f32) -> Option<Point> {
    // An estimate off the frame (a wrong triple predicts anything) has no
    // window; without this check `bottom - top` wrapped and the search ran
    // for ever.
    if !(x.is_finite() && y.is_finite() && allowance.is_finite()) || x + allowance < 0.0 || y + allowance < 0.0 {
        return None;
    }
    let left = (x - allowance).max(0.0) as usize;
    let right = ((x + allowance) as usize).min(bits.width - 1);
    let top = (y - allowance).max(0.0) as usize;
    let bottom = ((y + allowance) as usize).min(bits.height - 1);
    if right <= left || bottom <= top || ((right - left) as f32) < module * 3.0 || ((bottom - top) as f32) < module * 3.0 {
        return None;
    }
    let middle = (top + bottom) / 2;
    let mut first: Option<Point> = None;
    let mut seen: Vec<(Point, f32)> = Vec::new();
    let mut runs = Vec::new();
    // From the middle row outward: the pattern is most likely near the estimate.
    for step in 0..=(bottom - top) {
        let offset = step.div_ceil(2) as i64 * if step % 2 == 0 { 1 } else { -1 };
        let row = middle as i64 + offset;
        if row < top as i64 || row > bottom as i64 {
            continue;
        }
        let row = row as usize;
        // The window's part of the row as runs, light first: a light-dark-
        // light run before the start of each later dark run is a candidate.
        // A dark run at the window's left edge is no part of one.
        bits.runs_between(row, left, right, &mut runs);
        let first_light = if runs.first() == Some(&0) { 2 } else { 0 };
        let mut x = left;
        for (i, &r) in runs.iter().enumerate() {
            if i % 2 == 1 && i >= first_light + 3 {
                let c = [runs[i - 3], runs[i - 2], runs[i - 1]];
                if let Some(p) = alignment_center(bits, &c, row, x, module) {
                    if let Some((q, _)) = seen.iter().find(|(q, m)| (q.x - p.x).abs() <= *m && (q.y - p.y).abs() <= *m) {
                        return Some(Point { x: (q.x + p.x) / 2.0, y: (q.y + p.y) / 2.0 });
                    }
                    first.get_or_insert(p);
                    seen.push((p, module));
                }
            }
            x += r as usize;
        }
    }
    first
}

fn alignment_center(bits: &Bits<'_>, c: &[u32; 3], row: usize, end: usize, module: f32) -> Option<Point> {
    let close = |n: u32| (module - n as f32).abs() < module / 2.0;
    if !(close(c[0]) && close(c[1]) && close(c[2])) {
        return None;
    }
    let x = end as f32 - c[2] as f32 - c[1] as f32 / 2.0;
    // Down the column: light, dark, light of about a module each.
    let xi = x as i32;
    let max = (module * 2.0) as u32 + 1;
    let (mut top, mut bottom) = (row as i32, row as i32);
    while bits.dark_at(xi, top - 1) {
        top -= 1;
    }
    while bits.dark_at(xi, bottom + 1) {
        bottom += 1;
    }
    let dark = (bottom - top + 1) as u32;
    if dark > max {
        return None;
    }
    let light_above = (1..=max as i32).take_while(|d| bits.in_bounds(xi, top - d) && !bits.dark_at(xi, top - d)).count() as u32;
    let light_below = (1..=max as i32).take_while(|d| bits.in_bounds(xi, bottom + d) && !bits.dark_at(xi, bottom + d)).count() as u32;
    if !(close(dark) && close(light_above.min(max)) && close(light_below.min(max))) {
        return None;
    }
    Some(Point { x, y: (top + bottom) as f32 / 2.0 + 0.5 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finder_runs_need_the_1_1_3_1_1_ratio() {
        assert!(is_finder_runs(&[4, 4, 12, 4, 4]));
        assert!(is_finder_runs(&[3, 5, 11, 4, 4]));
        assert!(!is_finder_runs(&[4, 4, 4, 4, 4]));
        assert!(!is_finder_runs(&[1, 1, 2, 1, 1]), "too small to be a pattern");
    }

    #[test]
    fn an_alignment_estimate_off_the_frame_is_no_pattern() {
        // Once this looped for ever: the window's bottom above its top.
        let px = vec![200u8; 120 * 100];
        let frame = super::super::Frame::new(&px, 120, 100, 120).unwrap();
        let bits = super::super::binarize::binarize(&frame).unwrap();
        for (x, y) in [(5000.0, 50.0), (50.0, 5000.0), (-500.0, -500.0), (f32::NAN, 10.0), (60.0, 50.0)] {
            assert_eq!(alignment(&bits, 4.0, x, y, 64.0), None, "({x}, {y})");
        }
    }

    #[test]
    fn the_corner_opposite_the_longest_side_is_top_left() {
        let tl = Point { x: 10.0, y: 10.0 };
        let tr = Point { x: 110.0, y: 12.0 };
        let bl = Point { x: 8.0, y: 110.0 };
        for (a, b, c) in [(tl, tr, bl), (bl, tl, tr), (tr, bl, tl), (bl, tr, tl)] {
            let f = order(a, b, c, 4.0);
            assert_eq!((f.top_left, f.top_right, f.bottom_left), (tl, tr, bl));
        }
    }
}
