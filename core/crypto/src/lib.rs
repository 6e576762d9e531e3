//! SQLCipher's cryptography from Rust (RustCrypto): with it, OpenSSL's
//! libcrypto is never linked (it was there only for SQLCipher), one crypto
//! stack is left (Rust's), and the phone's library is 2.3 MB smaller
//! (ADR 0014).
//!
//! SQLCipher takes a "custom" crypto provider: a table of functions filled in
//! by a setup function whose name it is given at compile time
//! (`-DSQLCIPHER_CRYPTO_CUSTOM=vaxdesk_sqlcipher_setup` in
//! `.cargo/config.toml`, for every build of the workspace: tests, CLI, hub
//! and phone use the same). The provider does what SQLCipher 4's OpenSSL
//! provider does, byte for byte: AES-256-CBC without padding on whole blocks,
//! HMAC-SHA1/256/512 over two inputs, PBKDF2-HMAC-SHA1/256/512, and random
//! bytes from the operating system's generator; so a database written by
//! either build opens with the other (tested both ways).
//!
//! Everything here is `extern "C"` behind raw pointers SQLCipher hands over;
//! each function checks its lengths before it makes a slice, and answers
//! SQLITE_ERROR rather than panicking (a panic must not cross into C).

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};

/// Called by the store before it opens a database: the reference keeps
/// the provider in every program linked with the store, whatever order
/// the linker sees the archives in.
pub fn link() {
    std::hint::black_box(vaxdesk_sqlcipher_setup as unsafe extern "C" fn(*mut SqlcipherProvider) -> c_int);
}

const SQLITE_OK: c_int = 0;
const SQLITE_ERROR: c_int = 1;
const ENCRYPT: c_int = 1;
const HMAC_SHA1: c_int = 0;
const HMAC_SHA256: c_int = 1;
const HMAC_SHA512: c_int = 2;
const KEY_SZ: c_int = 32;
const BLOCK_SZ: c_int = 16;

/// SQLCipher's `struct sqlcipher_provider` (sqlcipher/crypto.h), field for field.
#[repr(C)]
pub struct SqlcipherProvider {
    init: Option<extern "C" fn() -> c_int>,
    shutdown: Option<extern "C" fn()>,
    get_provider_name: Option<extern "C" fn(*mut c_void) -> *const c_char>,
    add_random: Option<extern "C" fn(*mut c_void, *const c_void, c_int) -> c_int>,
    random: Option<extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int>,
    hmac: Option<extern "C" fn(*mut c_void, c_int, *const u8, c_int, *const u8, c_int, *const u8, c_int, *mut u8) -> c_int>,
    kdf: Option<extern "C" fn(*mut c_void, c_int, *const u8, c_int, *const u8, c_int, c_int, c_int, *mut u8) -> c_int>,
    cipher: Option<extern "C" fn(*mut c_void, c_int, *const u8, c_int, *const u8, *const u8, c_int, *mut u8) -> c_int>,
    get_cipher: Option<extern "C" fn(*mut c_void) -> *const c_char>,
    get_key_sz: Option<extern "C" fn(*mut c_void) -> c_int>,
    get_iv_sz: Option<extern "C" fn(*mut c_void) -> c_int>,
    get_block_sz: Option<extern "C" fn(*mut c_void) -> c_int>,
    get_hmac_sz: Option<extern "C" fn(*mut c_void, c_int) -> c_int>,
    ctx_init: Option<extern "C" fn(*mut *mut c_void) -> c_int>,
    ctx_free: Option<extern "C" fn(*mut *mut c_void) -> c_int>,
    fips_status: Option<extern "C" fn(*mut c_void) -> c_int>,
    get_provider_version: Option<extern "C" fn(*mut c_void) -> *const c_char>,
    next: *mut SqlcipherProvider,
}

/// Called by SQLCipher (compiled with `SQLCIPHER_CRYPTO_CUSTOM` naming it)
/// to fill in its provider table.
///
/// # Safety
/// `p` is SQLCipher's own provider table, valid for writing.
#[no_mangle]
pub unsafe extern "C" fn vaxdesk_sqlcipher_setup(p: *mut SqlcipherProvider) -> c_int {
    let Some(p) = (unsafe { p.as_mut() }) else { return SQLITE_ERROR };
    p.init = None;
    p.shutdown = None;
    p.get_provider_name = Some(provider_name);
    p.add_random = Some(add_random);
    p.random = Some(random);
    p.hmac = Some(hmac);
    p.kdf = Some(kdf);
    p.cipher = Some(cipher);
    p.get_cipher = Some(cipher_name);
    p.get_key_sz = Some(key_sz);
    p.get_iv_sz = Some(block_sz);
    p.get_block_sz = Some(block_sz);
    p.get_hmac_sz = Some(hmac_sz);
    p.ctx_init = Some(ctx_init);
    p.ctx_free = Some(ctx_free);
    p.fips_status = Some(fips_status);
    p.get_provider_version = Some(provider_version);
    SQLITE_OK
}

/// A byte slice from C, or None for a negative length or a null pointer
/// with a non-zero length.
fn slice<'a>(ptr: *const u8, len: c_int) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok()?;
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: SQLCipher passes a buffer of `len` readable bytes.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

fn slice_mut<'a>(ptr: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: SQLCipher passes an output buffer of `len` writable bytes
    // (the size this provider told it, or the size of its input).
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Run `f`, turning a panic (there should be none) into SQLITE_ERROR.
fn guard(f: impl FnOnce() -> Option<()>) -> c_int {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Some(())) => SQLITE_OK,
        _ => SQLITE_ERROR,
    }
}

extern "C" fn provider_name(_: *mut c_void) -> *const c_char {
    c"rustcrypto".as_ptr()
}

extern "C" fn provider_version(_: *mut c_void) -> *const c_char {
    c"aes 0.8, hmac 0.12, pbkdf2 0.12".as_ptr()
}

extern "C" fn cipher_name(_: *mut c_void) -> *const c_char {
    c"aes-256-cbc".as_ptr()
}

extern "C" fn key_sz(_: *mut c_void) -> c_int {
    KEY_SZ
}

extern "C" fn block_sz(_: *mut c_void) -> c_int {
    BLOCK_SZ
}

extern "C" fn hmac_sz(_: *mut c_void, algorithm: c_int) -> c_int {
    match algorithm {
        HMAC_SHA1 => 20,
        HMAC_SHA256 => 32,
        HMAC_SHA512 => 64,
        _ => 0,
    }
}

extern "C" fn ctx_init(_: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

extern "C" fn ctx_free(_: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

extern "C" fn fips_status(_: *mut c_void) -> c_int {
    0
}

/// The operating system's generator needs no seeding from the caller.
extern "C" fn add_random(_: *mut c_void, _: *const c_void, _: c_int) -> c_int {
    SQLITE_OK
}

extern "C" fn random(_: *mut c_void, buffer: *mut c_void, length: c_int) -> c_int {
    guard(|| {
        let n = usize::try_from(length).ok()?;
        let out = slice_mut(buffer.cast(), n)?;
        getrandom::getrandom(out).ok()
    })
}

#[allow(clippy::too_many_arguments)]
extern "C" fn hmac(
    _: *mut c_void,
    algorithm: c_int,
    key: *const u8,
    key_sz: c_int,
    in1: *const u8,
    in1_sz: c_int,
    in2: *const u8,
    in2_sz: c_int,
    out: *mut u8,
) -> c_int {
    use hmac::{Hmac, Mac};
    guard(|| {
        let (key, a, b) = (slice(key, key_sz)?, slice(in1, in1_sz)?, slice(in2, in2_sz)?);
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], a: &[u8], b: &[u8], out: *mut u8, n: usize) -> Option<()> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).ok()?;
            m.update(a);
            m.update(b);
            slice_mut(out, n)?.copy_from_slice(&m.finalize().into_bytes());
            Some(())
        }
        match algorithm {
            HMAC_SHA1 => run::<Hmac<sha1::Sha1>>(key, a, b, out, 20),
            HMAC_SHA256 => run::<Hmac<sha2::Sha256>>(key, a, b, out, 32),
            HMAC_SHA512 => run::<Hmac<sha2::Sha512>>(key, a, b, out, 64),
            _ => None,
        }
    })
}

#[allow(clippy::too_many_arguments)]
extern "C" fn kdf(
    _: *mut c_void,
    algorithm: c_int,
    pass: *const u8,
    pass_sz: c_int,
    salt: *const u8,
    salt_sz: c_int,
    workfactor: c_int,
    key_sz: c_int,
    key: *mut u8,
) -> c_int {
    guard(|| {
        let (pass, salt) = (slice(pass, pass_sz)?, slice(salt, salt_sz)?);
        let rounds = u32::try_from(workfactor).ok().filter(|r| *r > 0)?;
        let out = slice_mut(key, usize::try_from(key_sz).ok()?)?;
        match algorithm {
            HMAC_SHA1 => pbkdf2::pbkdf2::<hmac::Hmac<sha1::Sha1>>(pass, salt, rounds, out).ok(),
            HMAC_SHA256 => pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(pass, salt, rounds, out).ok(),
            HMAC_SHA512 => pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha512>>(pass, salt, rounds, out).ok(),
            _ => None,
        }
    })
}

/// AES-256-CBC over whole blocks, no padding (SQLCipher's page bodies).
#[allow(clippy::too_many_arguments)]
extern "C" fn cipher(_: *mut c_void, mode: c_int, key: *const u8, key_sz: c_int, iv: *const u8, input: *const u8, in_sz: c_int, out: *mut u8) -> c_int {
    use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    guard(|| {
        let key = slice(key, key_sz).filter(|k| k.len() == 32)?;
        let iv = slice(iv, BLOCK_SZ)?;
        let input = slice(input, in_sz).filter(|i| i.len() % 16 == 0)?;
        let out = slice_mut(out, input.len())?;
        out.copy_from_slice(input);
        if mode == ENCRYPT {
            cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv).ok()?.encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(out, input.len()).ok()?;
        } else {
            cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).ok()?.decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(out).ok()?;
        }
        Some(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Known answers: AES-256-CBC (NIST SP 800-38A F.2.5), HMAC-SHA256
    /// (RFC 4231 case 2, split over the two inputs), PBKDF2-HMAC-SHA1
    /// (RFC 6070 case 2).
    #[test]
    fn known_answers() {
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let plain = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let mut out = vec![0u8; 32];
        assert_eq!(cipher(std::ptr::null_mut(), ENCRYPT, key.as_ptr(), 32, iv.as_ptr(), plain.as_ptr(), 32, out.as_mut_ptr()), SQLITE_OK);
        assert_eq!(out, hex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"));
        let mut back = vec![0u8; 32];
        assert_eq!(cipher(std::ptr::null_mut(), 0, key.as_ptr(), 32, iv.as_ptr(), out.as_ptr(), 32, back.as_mut_ptr()), SQLITE_OK);
        assert_eq!(back, plain);
        // Not whole blocks, or a short key: an error, not a panic.
        assert_eq!(cipher(std::ptr::null_mut(), ENCRYPT, key.as_ptr(), 32, iv.as_ptr(), plain.as_ptr(), 17, out.as_mut_ptr()), SQLITE_ERROR);
        assert_eq!(cipher(std::ptr::null_mut(), ENCRYPT, key.as_ptr(), 16, iv.as_ptr(), plain.as_ptr(), 16, out.as_mut_ptr()), SQLITE_ERROR);

        let mut mac = vec![0u8; 32];
        let (k, a, b) = (b"Jefe", b"what do ya want ", b"for nothing?");
        assert_eq!(hmac(std::ptr::null_mut(), HMAC_SHA256, k.as_ptr(), 4, a.as_ptr(), a.len() as c_int, b.as_ptr(), b.len() as c_int, mac.as_mut_ptr()), SQLITE_OK);
        assert_eq!(mac, hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));

        let mut dk = vec![0u8; 20];
        assert_eq!(kdf(std::ptr::null_mut(), HMAC_SHA1, b"password".as_ptr(), 8, b"salt".as_ptr(), 4, 2, 20, dk.as_mut_ptr()), SQLITE_OK);
        assert_eq!(dk, hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"));
        assert_eq!(kdf(std::ptr::null_mut(), 9, b"p".as_ptr(), 1, b"s".as_ptr(), 1, 2, 20, dk.as_mut_ptr()), SQLITE_ERROR);

        let mut r = [0u8; 32];
        assert_eq!(random(std::ptr::null_mut(), r.as_mut_ptr().cast(), 32), SQLITE_OK);
        assert_ne!(r, [0u8; 32]);
        assert_eq!((hmac_sz(std::ptr::null_mut(), HMAC_SHA512), key_sz(std::ptr::null_mut()), block_sz(std::ptr::null_mut())), (64, 32, 16));
    }
}
