//! Pictures of QR codes for the demo: a code rendered on a card, photographed
//! slightly out of focus with some sensor noise, as a phone would see it.

use image::{GrayImage, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// `text` as a QR code with `module` pixels per module on a `w`×`h` frame:
/// a white card on a grey desk, a 3×3 blur, ±`noise` of deterministic noise.
pub fn photo(text: &str, module: u32, w: u32, h: u32, noise: i32) -> Result<GrayImage, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| format!("qr: {e}"))?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let side = (n + 8) * module;
    if side + 8 > w.min(h) {
        return Err(format!("qr: a {n}-module code at {module} px does not fit {w}x{h}"));
    }
    let mut img = GrayImage::from_pixel(w, h, Luma([120]));
    let (ox, oy) = ((w - side) / 2, (h - side) / 2);
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / module) as i64 - 4, (y / module) as i64 - 4);
            let inside = mx >= 0 && my >= 0 && (mx as u32) < n && (my as u32) < n;
            let dark = inside && colors[(my as u32 * n + mx as u32) as usize] == Color::Dark;
            img.put_pixel(ox + x, oy + y, Luma([if dark { 35 } else { 230 }]));
        }
    }
    let mut img = image::imageops::blur(&img, 0.8);
    let mut s = 0x2545_F491_u32;
    for p in img.pixels_mut() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let d = (s % (2 * noise as u32 + 1)) as i32 - noise;
        p.0[0] = (i32::from(p.0[0]) + d).clamp(0, 255) as u8;
    }
    Ok(img)
}

/// `text` as a clean QR code for a screen or a print: black on white,
/// `module` pixels per module, the 4-module quiet zone the standard asks for.
pub fn clean(text: &str, module: u32) -> Result<GrayImage, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q).map_err(|e| format!("qr: {e}"))?;
    let n = code.width() as u32;
    let colors = code.to_colors();
    let side = (n + 8) * module;
    Ok(GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / module) as i64 - 4, (y / module) as i64 - 4);
        let inside = mx >= 0 && my >= 0 && (mx as u32) < n && (my as u32) < n;
        Luma([if inside && colors[(my as u32 * n + mx as u32) as usize] == Color::Dark { 0 } else { 255 }])
    }))
}
