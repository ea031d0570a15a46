//! CURVE keys and libzmq's capabilities: what a user needs before securing a
//! socket with `CURVE_SERVER`, `CURVE_SECRETKEY`, `CURVE_PUBLICKEY` and
//! `CURVE_SERVERKEY`.
//!
//! Keys are Z85 text (40 characters for 32 bytes), the form libzmq's socket
//! options, pyzmq and certificate files use. CURVE needs libzmq built with
//! libsodium, which this workspace's `zmq-sys` does; [`zmq_has`]`("curve")`
//! says whether the linked libzmq has it.

use std::ffi::{c_char, CString};
use std::io;

use aiozmq_core::error::{from_errno, invalid_input};
use aiozmq_core::z85::{z85_decode, z85_encode};

use crate::sock::to_io;

// libzmq's `zmq_curve_public` (zmq.h, libzmq >= 4.2.1). zmq-sys declares it in
// its private `ffi` module without re-exporting it; the symbol is in the
// libzmq that zmq-sys links, so declaring it here is enough.
extern "C" {
    fn zmq_curve_public(z85_public_key: *mut c_char, z85_secret_key: *const c_char) -> i32;
}

/// Whether the linked libzmq has a capability (libzmq's `zmq_has`): `"curve"`,
/// `"ipc"`, `"pgm"`, `"tipc"`, `"norm"`, `"gssapi"`, `"draft"`. Check
/// `"curve"` before relying on CURVE: without it key calls fail and CURVE
/// options are refused.
pub fn zmq_has(capability: &str) -> bool {
    // A name with a NUL byte is no capability (and would make the C string fail).
    !capability.contains('\0') && zmq::has(capability) == Some(true)
}

/// A CURVE key pair in Z85 text: give `secret` (and `public`) to the socket
/// that owns the pair, and `public` to its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    /// The public key, 40 Z85 characters: safe to share.
    pub public: String,
    /// The secret key, 40 Z85 characters: keep it private.
    pub secret: String,
}

/// A new random CURVE key pair from libzmq (libsodium's random source).
/// Fails with `Unsupported` when libzmq was built without CURVE.
pub fn curve_keypair() -> io::Result<CurveKeyPair> {
    let pair = zmq::CurveKeyPair::new().map_err(to_io)?;
    Ok(CurveKeyPair {
        public: z85_key(&pair.public_key),
        secret: z85_key(&pair.secret_key),
    })
}

/// The public key that belongs to a secret key, both Z85 (libzmq's
/// `zmq_curve_public`): a server that stores only its secret key can derive
/// the public key to hand out. A secret that is not 40 Z85 characters is
/// `InvalidInput`; `Unsupported` when libzmq was built without CURVE.
pub fn curve_public(secret: &str) -> io::Result<String> {
    let bad = |why: String| invalid_input(format!("bad CURVE secret key: {why}"));
    if secret.len() != 40 {
        return Err(bad(format!(
            "expected 40 Z85 characters, got {} bytes",
            secret.len()
        )));
    }
    z85_decode(secret).map_err(|e| bad(e.to_string()))?;
    // Z85 text has no NUL byte, so this cannot fail.
    let secret = CString::new(secret).map_err(|e| bad(e.to_string()))?;
    let mut public = [0u8; 41];
    // SAFETY: the declaration above matches zmq.h (`int zmq_curve_public(char
    // *z85_public_key_, const char *z85_secret_key_)`); `public` has room for
    // the 40 characters and the NUL libzmq writes; `secret` is a
    // NUL-terminated 40-character Z85 string that outlives the call and that
    // libzmq only reads.
    let rc = unsafe { zmq_curve_public(public.as_mut_ptr().cast::<c_char>(), secret.as_ptr()) };
    if rc != 0 {
        // SAFETY: zmq_errno only reads libzmq's thread-local errno.
        return Err(from_errno(unsafe { zmq_sys::zmq_errno() }));
    }
    String::from_utf8(public[..40].to_vec())
        .map_err(|_| io::Error::other("libzmq returned a public key that is not Z85"))
}

fn z85_key(key: &[u8; 32]) -> String {
    z85_encode(key).expect("32 bytes is a multiple of 4")
}

#[cfg(test)]
mod tests {
    use super::*;

    // libzmq's own test pair (tests/testutil_security.hpp).
    const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    #[test]
    fn this_libzmq_has_curve() {
        assert!(zmq_has("curve"));
        assert!(!zmq_has("no such capability"));
        assert!(!zmq_has("curve\0"));
    }

    #[test]
    fn keypair_is_40_char_z85_and_public_matches_secret() {
        let pair = curve_keypair().unwrap();
        assert_eq!(pair.public.len(), 40);
        assert_eq!(pair.secret.len(), 40);
        assert_eq!(z85_decode(&pair.public).unwrap().len(), 32);
        assert_eq!(
            z85_encode(&z85_decode(&pair.secret).unwrap()).unwrap(),
            pair.secret
        );
        assert_eq!(curve_public(&pair.secret).unwrap(), pair.public);
        assert_ne!(curve_keypair().unwrap(), pair, "keys are random");
    }

    #[test]
    fn public_of_libzmqs_test_secret() {
        assert_eq!(curve_public(SERVER_SECRET).unwrap(), SERVER_PUBLIC);
    }

    #[test]
    fn bad_secrets_are_invalid_input() {
        let with = |at: usize, text: &str| {
            let mut s = SERVER_SECRET.to_owned();
            s.replace_range(at..at + text.len(), text);
            s
        };
        for (secret, says) in [
            (String::new(), "got 0 bytes"),
            (SERVER_SECRET[..39].to_owned(), "got 39 bytes"),
            (format!("{SERVER_SECRET}x"), "got 41 bytes"),
            (with(39, "~"), "not a Z85 character at offset 39"),
            (with(39, "\0"), "not a Z85 character at offset 39"),
            (with(0, "#####"), "out of range"),
            (
                format!("é{}", &SERVER_SECRET[2..]),
                "not a Z85 character at offset 0",
            ),
        ] {
            let e = curve_public(&secret).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{secret:?}");
            let text = e.to_string();
            assert!(text.contains("bad CURVE secret key"), "{text}");
            assert!(text.contains(says), "{secret:?}: {text}");
        }
    }
}
