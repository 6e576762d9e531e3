//! A code's size and its perspective read off its timing patterns.
//!
//! Three finder centres fix a code only up to an affine map: on a card
//! tilted by 20° or more the modules between them are not evenly spaced,
//! and a grid laid evenly between the finders reads the middle of the code
//! half a module off — every other module wrong. The size guessed from the
//! finder spacing over a module size measured on 7 modules is also off by
//! a version or two on a blurred code.
//!
//! The timing patterns (row 6 and column 6 between the finders, one module
//! dark, one light) answer both. Walking along each one from finder to
//! finder counts its modules (the code's size, exactly) and places each
//! module's centre in the frame; a homography fitted to those centres and
//! the three finder centres carries the perspective the finders alone
//! cannot.

use super::binarize::Bits;
use super::finder::{Finders, Point};
use super::grid::module_along_within;

/// A point in module coordinates and where it is in the frame.
pub(super) type Pair = ((f64, f64), (f64, f64));

/// Module centres along one timing pattern, in frame pixels: modules 7 to
/// `dim - 8` (the light separators at each end included).
struct Track {
    centres: Vec<Point>,
}

/// The code's size and the map from module coordinates to frame pixels,
/// when both timing patterns can be followed and agree on the size, or one
/// gives a valid size and the other is lost or not a valid size.
pub(super) fn fit(bits: &Bits<'_>, f: &Finders) -> Option<(usize, [f32; 9])> {
    let (tl, tr, bl) = (f.top_left, f.top_right, f.bottom_left);
    let down = unit(tl, bl)?;
    let right = unit(tl, tr)?;
    // Each finder's own module size: on a tilted card the near finder's
    // modules are a third larger than the far one's, and the row 3 modules
    // off the centres is missed by a module's third with one size for all.
    // Up to 1.6 times the three's mean: a finder near the camera on a card
    // tilted by 35° is 9 px a module down and 8 across where the far
    // one is 5 by 7, and the mean size puts the walk a module off the row.
    let local = |p: Point, dir: (f32, f32)| module_along_within(bits, p, Point { x: p.x + dir.0 * 10.0, y: p.y + dir.1 * 10.0 }, f.module, 0.5..=1.6).unwrap_or(f.module);
    let (tl_down, tl_right) = (local(tl, down), local(tl, right));
    let row = follow(bits, (tl, tl_down, tl_right), (tr, local(tr, down), local(tr, right)), down);
    let column = follow(bits, (tl, tl_right, tl_down), (bl, local(bl, right), local(bl, down)), right);
    // Both rows counted alike, or one row of a valid size where the other
    // was lost or miscounted (a run of modules under two pixels split or
    // joined wrongly): one row and the three finders still fix the
    // perspective along it and the size, and rqrr's error correction
    // judges the grid.
    let valid = |t: Option<Track>| t.filter(|t| (21..=177).contains(&(t.centres.len() + 14)) && (t.centres.len() + 14 - 17) % 4 == 0);
    let (row, column) = (valid(row), valid(column));
    let dim = match (&row, &column) {
        (Some(a), Some(b)) if a.centres.len() != b.centres.len() => return None,
        (Some(t), _) | (None, Some(t)) => t.centres.len() + 14,
        (None, None) => return None,
    };
    let far = dim as f64 - 3.5;
    let mut pairs: Vec<Pair> = vec![
        ((3.5, 3.5), (tl.x.into(), tl.y.into())),
        ((far, 3.5), (tr.x.into(), tr.y.into())),
        ((3.5, far), (bl.x.into(), bl.y.into())),
    ];
    for (i, p) in row.iter().flat_map(|t| t.centres.iter()).enumerate() {
        pairs.push(((7.5 + i as f64, 6.5), (p.x.into(), p.y.into())));
    }
    for (i, p) in column.iter().flat_map(|t| t.centres.iter()).enumerate() {
        pairs.push(((6.5, 7.5 + i as f64), (p.x.into(), p.y.into())));
    }
    let h = homography(&pairs)?;
    Some((dim, h.map(|v| v as f32)))
}

fn unit(from: Point, to: Point) -> Option<(f32, f32)> {
    let (dx, dy) = (to.x - from.x, to.y - from.y);
    let len = dx.hypot(dy);
    (len >= 1.0).then(|| (dx / len, dy / len))
}

/// The timing pattern from finder `a` to finder `b`: the line through
/// their centres moved three modules `aside` (the centre of row or column 6
/// lies 3 modules from the centre row 3.5). From the finder's dark ring,
/// through alternating single modules, to the other finder's ring. Each
/// end is (centre, module size aside, module size along the walk).
fn follow(bits: &Bits<'_>, a: (Point, f32, f32), b: (Point, f32, f32), aside: (f32, f32)) -> Option<Track> {
    let ((a, a_aside, a_along), (b, b_aside, b_along)) = (a, b);
    let (ax, ay) = unit(a, b)?;
    // From 1.5 modules past each finder's centre (2 modules short of its
    // edge): the ring's corner, where a line a little off the row's centre
    // meets the light ring inside, stays out of the walk.
    let start = Point { x: a.x + aside.0 * 3.0 * a_aside + ax * 1.5 * a_along, y: a.y + aside.1 * 3.0 * a_aside + ay * 1.5 * a_along };
    let end = Point { x: b.x + aside.0 * 3.0 * b_aside - ax * 1.5 * b_along, y: b.y + aside.1 * 3.0 * b_aside - ay * 1.5 * b_along };
    let (ux, uy) = unit(start, end)?;
    let len = (end.x - start.x).hypot(end.y - start.y);
    let module = (a_along + b_along) / 2.0;
    // Half-pixel steps; each step the majority of three points across the
    // line, a third of a module apart, so a speck of noise or a line a
    // little off the row's centre does not make a module.
    const STEP: f32 = 0.5;
    let across = (a_aside + b_aside) / 6.0;
    let steps = (len / STEP) as usize + 1;
    let mut dark = Vec::with_capacity(steps);
    for i in 0..steps {
        let t = i as f32 * STEP;
        let (x, y) = (start.x + ux * t, start.y + uy * t);
        let votes = [-1.0f32, 0.0, 1.0]
            .iter()
            .filter(|&&k| bits.dark_at((x + aside.0 * k * across).floor() as i32, (y + aside.1 * k * across).floor() as i32))
            .count();
        dark.push(votes >= 2);
    }
    // Runs as (dark, first step, steps), then a run shorter than 0.3 of the
    // smaller end's module (a single step always) added to the run before
    // it, which then joins the run after it: a speck inside a module.
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for (i, &d) in dark.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if r.0 == d => r.2 += 1,
            _ => runs.push((d, i, 1)),
        }
    }
    let min = ((0.3 * a_along.min(b_along) / STEP).round() as usize).max(2);
    let mut clean: Vec<(bool, usize, usize)> = Vec::with_capacity(runs.len());
    for r in runs {
        match clean.last_mut() {
            Some(last) if last.0 == r.0 => last.2 += r.2,
            Some(last) if r.2 < min => last.2 += r.2,
            _ => clean.push(r),
        }
    }
    let px = |steps: usize| steps as f32 * STEP;
    // A light run of under half a module where the walk starts (or ends)
    // is the ring row's edge, not a module: with modules under two pixels
    // a finder centre half a pixel off starts the walk beside its ring.
    if clean.first().is_some_and(|r| !r.0 && px(r.2) < 0.5 * a_along) {
        clean.remove(0);
    }
    if clean.last().is_some_and(|r| !r.0 && px(r.2) < 0.5 * b_along) {
        clean.pop();
    }
    // Dark ring, then an odd number of single modules starting and ending
    // light, then the other ring.
    if clean.len() < 9 || !clean[0].0 || !clean[clean.len() - 1].0 {
        return None;
    }
    // The rings: 2 modules from where the walk starts to the first single
    // (not 4: a separator filled in by ink spread, and the timing module
    // after it, would shift every module's number by two; down to 0.7 of a
    // module: where modules are under two pixels a centre a pixel off
    // along the walk shortens the ring's part by half).
    let (first, last) = (px(clean[0].2), px(clean[clean.len() - 1].2));
    if !(0.7 * a_along..=3.3 * a_along).contains(&first) || !(0.7 * b_along..=3.3 * b_along).contains(&last) {
        return None;
    }
    let singles = &clean[1..clean.len() - 1];
    // A module lost to glare or a scratch joins its neighbours into a run
    // of three (or five): split by the module size there (the mean of the
    // four runs each way: perspective changes it from one end to the other
    // slowly, JPEG and noise from one run to the next by a third). A run
    // of one colour is an odd number of modules, or the colours after it
    // would not alternate: the nearest odd count, so that a single module
    // measured 1.7 times the mean is one module, not an even count that
    // ends the walk.
    //
    // A threshold off the middle makes every dark module longer and every
    // light one shorter by the same few tenths of a pixel, a third of a
    // 2-pixel module: that bias (half the difference between the median
    // dark and the median light run, which merged runs do not move) is
    // taken off before a run is counted in modules.
    let median = |dark: bool| {
        let mut lengths: Vec<f32> = singles.iter().filter(|r| r.0 == dark).map(|r| px(r.2)).collect();
        lengths.sort_by(f32::total_cmp);
        lengths.get(lengths.len() / 2).copied()
    };
    let bias = match (median(true), median(false)) {
        (Some(d), Some(l)) => (d - l) / 2.0,
        _ => 0.0,
    };
    let mut centres = Vec::with_capacity(singles.len() + 4);
    for (i, r) in singles.iter().enumerate() {
        let near = |k: usize| singles.get(k).map(|r| px(r.2));
        let neighbours: Vec<f32> = (i.saturating_sub(4)..i + 5).filter(|&k| k != i).filter_map(near).collect();
        let local = if neighbours.is_empty() { module } else { neighbours.iter().sum::<f32>() / neighbours.len() as f32 };
        let length = px(r.2);
        let modules = (length - if r.0 { bias } else { -bias }) / local;
        let count = 2 * ((modules - 1.0) / 2.0).round().max(0.0) as usize + 1;
        if count > 5 {
            return None;
        }
        // Each module about the size the finders at the two ends show
        // (stripes of text or a pattern three modules wide are not a
        // timing pattern, however evenly they alternate).
        let per = length / count as f32;
        if per < 0.3 * a_along.min(b_along) || per > 2.0 * a_along.max(b_along) {
            return None;
        }
        for k in 0..count {
            // Samples are points at `i * STEP`: a run of them is centred
            // half a step before `first + steps / 2`.
            let t = (r.1 as f32 - 0.5 + r.2 as f32 * (k as f32 + 0.5) / count as f32) * STEP;
            centres.push(Point { x: start.x + ux * t, y: start.y + uy * t });
        }
    }
    if centres.len() < 7 {
        return None;
    }
    Some(Track { centres })
}

/// The homography taking each `(u, v)` to its `(x, y)`, fitted by least
/// squares (the direct linear transform with the last coefficient 1), on
/// coordinates first moved to their centroid and scaled to a mean distance
/// of √2 so that pixels in the thousands and modules in the tens weigh
/// alike. Row-major 3×3, as `grid::Perspective` keeps it.
pub(super) fn homography(pairs: &[Pair]) -> Option<[f64; 9]> {
    if pairs.len() < 4 {
        return None;
    }
    let from = normaliser(pairs.iter().map(|p| p.0));
    let to = normaliser(pairs.iter().map(|p| p.1));
    let mut ata = [[0.0f64; 8]; 8];
    let mut atb = [0.0f64; 8];
    for &((u, v), (x, y)) in pairs {
        let (u, v) = (from.0 * (u - from.1), from.0 * (v - from.2));
        let (x, y) = (to.0 * (x - to.1), to.0 * (y - to.2));
        for (row, rhs) in [([u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x], x), ([0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y], y)] {
            for i in 0..8 {
                for j in 0..8 {
                    ata[i][j] += row[i] * row[j];
                }
                atb[i] += row[i] * rhs;
            }
        }
    }
    let h = solve(ata, atb)?;
    let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
    // Undo the normalisation: H = T_to⁻¹ · Hn · T_from.
    let t_from = [from.0, 0.0, -from.0 * from.1, 0.0, from.0, -from.0 * from.2, 0.0, 0.0, 1.0];
    let t_to_inv = [1.0 / to.0, 0.0, to.1, 0.0, 1.0 / to.0, to.2, 0.0, 0.0, 1.0];
    let out = mul(&t_to_inv, &mul(&hn, &t_from));
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// (scale, centre x, centre y) that move points to their centroid and a
/// mean distance of √2 from it.
fn normaliser(points: impl Iterator<Item = (f64, f64)> + Clone) -> (f64, f64, f64) {
    let n = points.clone().count().max(1) as f64;
    let (cx, cy) = points.clone().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (cx, cy) = (cx / n, cy / n);
    let mean = points.map(|(x, y)| (x - cx).hypot(y - cy)).sum::<f64>() / n;
    (std::f64::consts::SQRT_2 / mean.max(1e-9), cx, cy)
}

fn mul(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut out = [0.0; 9];
    for r in 0..3 {
        for c in 0..3 {
            out[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
        }
    }
    out
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (r, row) in rest.iter_mut().enumerate() {
            let k = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= k * p;
            }
            b[col + 1 + r] -= k * b[col];
        }
    }
    let mut x = [0.0f64; 8];
    for r in (0..8).rev() {
        let s: f64 = (r + 1..8).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::super::binarize::binarize;
    use super::super::Frame;
    use super::*;

    /// A timing row drawn as vertical stripes between two finders' ring
    /// rows (`rings` pixels of dark, the first and the last), the single modules' runs
    /// alternating from light, `module` pixels a module at the finders;
    /// the track followed, and where each run starts in the frame. The
    /// first finder's centre is `a_shift` pixels along from where it is.
    fn follow_stripes(module: f32, rings: (usize, usize), singles: &[usize], a_shift: f32) -> (Option<Track>, Vec<(usize, usize)>) {
        const MARGIN: usize = 12;
        let mut runs = vec![(true, rings.0)];
        runs.extend(singles.iter().enumerate().map(|(i, &n)| (i % 2 == 1, n)));
        runs.push((true, rings.1));
        let width = 2 * MARGIN + runs.iter().map(|r| r.1).sum::<usize>();
        let mut row = vec![235u8; width];
        let mut spans = Vec::new();
        let mut x = MARGIN;
        for &(dark, n) in &runs {
            if dark {
                row[x..x + n].fill(20);
            }
            spans.push((x, n));
            x += n;
        }
        let height = 40;
        let px: Vec<u8> = (0..height).flat_map(|_| row.iter().copied()).collect();
        let frame = Frame::new(&px, width, height, width).unwrap();
        let bits = binarize(&frame).unwrap();
        // Centres 3.5 modules in from each ring's outer end; the row walked
        // 3 modules below them.
        let y = 10.0;
        let a = Point { x: MARGIN as f32 + 3.5 * module + a_shift, y };
        let b = Point { x: (width - MARGIN) as f32 - 3.5 * module, y };
        let track = follow(&bits, (a, module, module), (b, module, module), (0.0, 1.0));
        (track, spans[1..spans.len() - 1].to_vec())
    }

    /// Whether each run holds as many centres as it has modules, in order.
    fn centres_in_runs(track: &Track, spans: &[(usize, usize)], modules: &[usize]) -> bool {
        let mut centres = track.centres.iter();
        spans.iter().zip(modules).all(|(&(start, n), &count)| {
            (0..count).all(|_| centres.next().is_some_and(|c| c.x >= start as f32 && c.x <= (start + n) as f32))
        }) && centres.next().is_none()
    }

    #[test]
    fn a_timing_row_whose_modules_wander_by_a_third_is_counted_to_the_module() {
        // 3-pixel modules come out 2 to 4 pixels long (perspective, JPEG),
        // one light run is three modules lost to glare. The 4-pixel light
        // run is 1.78 times the mean of the eight runs around it (no bias:
        // the median dark and light runs are both 3 px): the nearest odd
        // count is one module, where rounding made it two (an even count
        // that ended the walk).
        let singles = [3, 3, 3, 2, 2, 2, 4, 2, 2, 2, 3, 3, 9, 3, 3, 3, 3];
        let (track, spans) = follow_stripes(3.0, (21, 21), &singles, 0.0);
        let track = track.expect("followed");
        let modules: Vec<usize> = singles.iter().map(|&n| if n == 9 { 3 } else { 1 }).collect();
        assert_eq!(track.centres.len(), 19);
        assert!(centres_in_runs(&track, &spans, &modules), "{:?}", track.centres);
    }

    #[test]
    fn ink_spread_at_two_pixel_modules_is_taken_off_before_runs_are_counted() {
        // Dark modules 3 pixels, light ones 1 (a threshold well below the
        // middle): the bias is a pixel. One dark run is a pixel longer
        // still, 2.0 times the mean of the runs around it: without the bias
        // taken off it would count as three modules (and the code's size
        // two more); with it, 1.5: one. Three light modules run together
        // (5 px) count as three either way.
        let singles = [1, 3, 1, 3, 1, 3, 1, 4, 1, 3, 1, 3, 1, 3, 1, 3, 5, 3, 1, 3, 1];
        let (track, spans) = follow_stripes(2.0, (15, 15), &singles, 0.0);
        let track = track.expect("followed");
        let modules: Vec<usize> = singles.iter().map(|&n| if n == 5 { 3 } else { 1 }).collect();
        assert_eq!(track.centres.len(), 23);
        assert!(centres_in_runs(&track, &spans, &modules), "{:?}", track.centres);
    }

    #[test]
    fn a_walk_started_beside_the_ring_or_short_of_it_is_followed() {
        let singles = [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
        // Half a pixel before a ring row of 2 modules (a finder centre off
        // along the row): a light speck, then the ring.
        let (track, _) = follow_stripes(3.0, (6, 21), &singles, -15.5);
        assert_eq!(track.expect("followed past the speck").centres.len(), 11);
        // 3.5 px further in than it should: 2.5 px of ring, 0.83 module.
        let (track, _) = follow_stripes(3.0, (21, 21), &singles, 3.5);
        assert_eq!(track.expect("followed from a short ring").centres.len(), 11);
        // Past the ring altogether: not a timing row.
        let (track, _) = follow_stripes(3.0, (21, 21), &singles, 6.5);
        assert!(track.is_none());
    }

    #[test]
    fn one_timing_row_and_the_finders_place_a_code_whose_other_row_is_lost() {
        // A version-5 code, 4 px a module, upright: a dark scratch over
        // seven modules of the timing column (a run the walk cannot split)
        // leaves the row alone to count the size and place the modules.
        let code = qrcode::QrCode::with_version(b"vaxdesk timing test", qrcode::Version::Normal(5), qrcode::EcLevel::M).unwrap();
        let n = code.width();
        let dark: Vec<bool> = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
        let m = 4usize;
        let side = (n + 8) * m;
        let scratch = |mx: usize, my: usize| mx == 6 && (14..21).contains(&my);
        let px: Vec<u8> = (0..side * side)
            .map(|i| {
                let (x, y) = ((i % side) / m, (i / side) / m);
                let inside = (4..n + 4).contains(&x) && (4..n + 4).contains(&y);
                if inside && (dark[(y - 4) * n + x - 4] || scratch(x - 4, y - 4)) { 20 } else { 235 }
            })
            .collect();
        let frame = Frame::new(&px, side, side, side).unwrap();
        let bits = binarize(&frame).unwrap();
        let at = |mx: f32, my: f32| Point { x: (4.0 + mx) * m as f32, y: (4.0 + my) * m as f32 };
        let far = n as f32 - 3.5;
        let f = Finders { top_left: at(3.5, 3.5), top_right: at(far, 3.5), bottom_left: at(3.5, far), module: m as f32 };
        let column = follow(&bits, (f.top_left, f.module, f.module), (f.bottom_left, f.module, f.module), (1.0, 0.0));
        assert!(column.is_none(), "the scratched column is not followed");
        let (dim, h) = fit(&bits, &f).expect("placed by the row");
        assert_eq!(dim, n);
        let h: [f64; 9] = h.map(f64::from);
        for (u, v) in [(10.5, 10.5), (30.5, 5.5), (5.5, 30.5), (33.5, 33.5), (20.5, 25.5)] {
            let (x, y) = apply(&h, u, v);
            let want = at(u as f32, v as f32);
            assert!((x as f32 - want.x).abs() < 1.0 && (y as f32 - want.y).abs() < 1.0, "module ({u}, {v}) at ({x:.1}, {y:.1}), want {want:?}");
        }
    }

    #[test]
    fn stripes_seven_modules_wide_are_not_a_timing_row() {
        // Rings of 3-pixel modules at the ends and evenly alternating runs
        // of 21 px between them (printed text, a pattern): each run is one
        // module by the runs around it, and 7 of the finders' modules: not
        // a timing row.
        let (track, _) = follow_stripes(3.0, (21, 21), &[21; 9], 0.0);
        assert!(track.is_none());
        let (track, _) = follow_stripes(3.0, (21, 21), &[3; 9], 0.0);
        assert_eq!(track.expect("the same at the finders' size").centres.len(), 9);
    }

    fn apply(h: &[f64; 9], u: f64, v: f64) -> (f64, f64) {
        let w = h[6] * u + h[7] * v + h[8];
        ((h[0] * u + h[1] * v + h[2]) / w, (h[3] * u + h[4] * v + h[5]) / w)
    }

    #[test]
    fn a_fitted_homography_reproduces_a_tilted_grid() {
        // A projective map with a real vanishing point (a card tilted away).
        let truth = [9.0, 2.0, 300.0, -1.5, 8.0, 120.0, 0.0015, 0.0008, 1.0];
        let pairs: Vec<_> = (0..40).map(|i| (f64::from(i % 7) * 6.0 + 3.5, f64::from(i / 7) * 7.0 + 3.5)).map(|(u, v)| ((u, v), apply(&truth, u, v))).collect();
        let h = homography(&pairs).expect("fits");
        for (u, v) in [(0.0, 0.0), (45.0, 0.0), (45.0, 45.0), (20.0, 30.0)] {
            let (a, b) = (apply(&truth, u, v), apply(&h, u, v));
            assert!((a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3, "({u}, {v}): {a:?} vs {b:?}");
        }
    }

    #[test]
    fn too_few_or_collinear_points_fit_nothing() {
        assert!(homography(&[((0.0, 0.0), (1.0, 1.0)); 3]).is_none());
        let line: Vec<_> = (0..10).map(|i| ((f64::from(i), 0.0), (f64::from(i) * 3.0, 5.0))).collect();
        assert!(homography(&line).is_none());
    }
}
