//! QR images of a text (the `otpauth://` URI): an inline SVG and a PNG data URL, black on white with
//! a 4-module quiet zone, error correction level M. qrcode computes the matrix and the SVG; the PNG is
//! written here (1-bit grayscale, a few chunks and zlib) because the image crates are a heavy build.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qrcode::render::svg;
use qrcode::types::Color;
use qrcode::{EcLevel, QrCode};

use crate::random::crc32;

/// Pixels per module: a version-10 code (a long otpauth URI) comes out near 400 px square.
const MODULE_PX: usize = 6;
/// The quiet zone the QR specification asks for around a (non-micro) code.
const QUIET_MODULES: usize = 4;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// `data:image/png;base64,…`, or `None` when the text is too long for any QR version.
pub fn png_data_url(text: &str) -> Option<String> {
    let code = encode(text)?;
    let png = png_1bit(&code.to_colors(), code.width())?;
    Some(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}

/// A standalone `<svg …>` element (no XML declaration, so it can sit inside HTML), or `None` when the
/// text is too long for any QR version.
pub fn svg(text: &str) -> Option<String> {
    let module = u32::try_from(MODULE_PX).ok()?;
    let document = encode(text)?
        .render::<svg::Color>()
        .quiet_zone(true)
        .module_dimensions(module, module)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = document.find("<svg")?;
    Some(document[start..].to_owned())
}

fn encode(text: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(text, EcLevel::M).ok()
}

/// A 1-bit grayscale PNG of the modules (`width` × `width`, row by row), quiet zone included.
fn png_1bit(modules: &[Color], width: usize) -> Option<Vec<u8>> {
    let side_modules = width + 2 * QUIET_MODULES;
    let side_px = side_modules * MODULE_PX;
    let row_bytes = side_px.div_ceil(8);
    let is_dark = |column: usize, row: usize| {
        let inside = |m: usize| m.checked_sub(QUIET_MODULES).filter(|&m| m < width);
        match (inside(column), inside(row)) {
            (Some(x), Some(y)) => modules.get(y * width + x) == Some(&Color::Dark),
            _ => false,
        }
    };

    let mut scanlines = Vec::with_capacity((row_bytes + 1) * side_px);
    for row in 0..side_modules {
        // In 1-bit grayscale a 0 bit is black: start black and light the light pixels.
        let mut line = vec![0u8; row_bytes];
        for x in 0..side_px {
            if !is_dark(x / MODULE_PX, row) {
                line[x / 8] |= 0x80 >> (x % 8);
            }
        }
        for _ in 0..MODULE_PX {
            scanlines.push(0); // filter type None
            scanlines.extend_from_slice(&line);
        }
    }

    let side = u32::try_from(side_px).ok()?;
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    // Bit depth 1, colour type 0 (grayscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[1, 0, 0, 0, 0]);

    let mut png = PNG_SIGNATURE.to_vec();
    push_chunk(&mut png, b"IHDR", &header)?;
    push_chunk(
        &mut png,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&scanlines, 9),
    )?;
    push_chunk(&mut png, b"IEND", &[])?;
    Some(png)
}

/// Length, type, data, and the CRC-32 of type and data (the same CRC as PocketBase's ids).
fn push_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Option<()> {
    png.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a malformed image fails the test at the line that reads it
    use super::*;

    const URI: &str = "otpauth://totp/Acme%20Co:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30";

    struct Chunk<'a> {
        kind: &'a [u8],
        data: &'a [u8],
    }

    /// Splits a PNG into chunks, checking each CRC on the way.
    fn chunks(png: &[u8]) -> Vec<Chunk<'_>> {
        assert_eq!(&png[..8], PNG_SIGNATURE);
        let mut rest = &png[8..];
        let mut found = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let (kind, data) = (&rest[4..8], &rest[8..8 + len]);
            let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(&rest[4..8 + len]), "CRC of {kind:?}");
            found.push(Chunk { kind, data });
            rest = &rest[12 + len..];
        }
        found
    }

    fn png_bytes(text: &str) -> Vec<u8> {
        let url = png_data_url(text).unwrap();
        let b64 = url.strip_prefix("data:image/png;base64,").unwrap();
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    fn png_is_a_well_formed_1bit_image_with_quiet_zone() {
        let png = png_bytes(URI);
        let code = encode(URI).unwrap();
        let side = (code.width() + 2 * QUIET_MODULES) * MODULE_PX;
        let found = chunks(&png);
        let kinds: Vec<&[u8]> = found.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);

        let header = found[0].data;
        let width = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
        let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
        assert_eq!((width, height), (side, side));
        assert!((150..=1200).contains(&width), "{width}");
        assert_eq!(&header[8..], &[1, 0, 0, 0, 0]);

        let pixels = miniz_oxide::inflate::decompress_to_vec_zlib(found[1].data).unwrap();
        let row_bytes = side.div_ceil(8) + 1;
        assert_eq!(pixels.len(), row_bytes * side);
        let white = |x: usize, y: usize| pixels[y * row_bytes + 1 + x / 8] & (0x80 >> (x % 8)) != 0;
        let quiet_px = QUIET_MODULES * MODULE_PX;
        assert!(white(0, 0) && white(quiet_px - 1, quiet_px - 1));
        // The top-left finder pattern starts with a dark module right after the quiet zone.
        assert!(!white(quiet_px, quiet_px));
        assert!(!white(quiet_px + MODULE_PX - 1, quiet_px + MODULE_PX - 1));
        assert!(white(side - 1, side - 1));
    }

    #[test]
    fn svg_is_standalone_with_a_view_box() {
        let image = svg(URI).unwrap();
        let side = (encode(URI).unwrap().width() + 2 * QUIET_MODULES) * MODULE_PX;
        assert!(image.starts_with("<svg"), "{:.60}", image);
        assert!(image.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        assert!(image.contains("#000000") && image.contains("#ffffff"));
        assert!(image.ends_with("</svg>"));
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_none() {
        let long = "x".repeat(5_000);
        assert_eq!(png_data_url(&long), None);
        assert_eq!(svg(&long), None);
    }

    /// Writes the PNG and SVG of a sample URI to the temp dir to decode it with an external reader:
    /// `cargo test -p gatehouse-domain write_sample_png -- --ignored`.
    #[test]
    #[ignore]
    fn write_sample_png() {
        let path = std::env::temp_dir().join("qr-test.png");
        std::fs::write(&path, png_bytes(URI)).unwrap();
        std::fs::write(path.with_extension("svg"), svg(URI).unwrap()).unwrap();
        println!("{}", path.display());
    }
}
