//! Z85 (RFC 32): the text form of CURVE keys, 5 characters per 4 bytes.

use std::fmt;

/// Z85's 85 characters (RFC 32), in digit order.
const Z85_CHARS: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why Z85 text or data could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Z85Error {
    /// Data to encode must be a multiple of 4 bytes; text to decode a multiple of 5 characters.
    BadLength(usize),
    /// The character at this byte offset is not in Z85's alphabet.
    BadChar(usize),
    /// The 5-character group at this byte offset is larger than 2³² − 1.
    Overflow(usize),
}

impl fmt::Display for Z85Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Z85Error::BadLength(n) => write!(
                f,
                "bad Z85 length {n} (bytes: a multiple of 4; text: a multiple of 5)"
            ),
            Z85Error::BadChar(at) => write!(f, "not a Z85 character at offset {at}"),
            Z85Error::Overflow(at) => write!(f, "Z85 group at offset {at} is out of range"),
        }
    }
}

impl std::error::Error for Z85Error {}

/// Encodes bytes as Z85 text (RFC 32), e.g. a 32-byte CURVE key as 40
/// characters. The length must be a multiple of 4.
pub fn z85_encode(data: &[u8]) -> Result<String, Z85Error> {
    if !data.len().is_multiple_of(4) {
        return Err(Z85Error::BadLength(data.len()));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for digit in group.iter_mut().rev() {
            *digit = Z85_CHARS[(value % 85) as usize];
            value /= 85;
        }
        out.extend(group.iter().map(|&b| b as char));
    }
    Ok(out)
}

/// Decodes Z85 text (RFC 32) to bytes, e.g. a 40-character CURVE key to 32
/// bytes. The length must be a multiple of 5, every character in Z85's
/// alphabet, and every group of five at most 2³² − 1 (as libzmq requires).
pub fn z85_decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(5) {
        return Err(Z85Error::BadLength(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for (i, group) in text.chunks_exact(5).enumerate() {
        let mut value: u64 = 0;
        for (j, &c) in group.iter().enumerate() {
            let digit = Z85_CHARS
                .iter()
                .position(|&z| z == c)
                .ok_or(Z85Error::BadChar(i * 5 + j))?;
            value = value * 85 + digit as u64;
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow(i * 5))?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: [u8; 8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
    // libzmq's own test keys (tests/testutil_security.hpp).
    const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

    #[test]
    fn z85_matches_the_rfc_vector() {
        assert_eq!(z85_encode(&HELLO).unwrap(), "HelloWorld");
        assert_eq!(z85_decode("HelloWorld").unwrap(), HELLO);
        assert_eq!(z85_encode(&[]).unwrap(), "");
        assert_eq!(z85_encode(&[0; 4]).unwrap(), "00000");
        assert_eq!(z85_encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(z85_decode("%nSc0").unwrap(), [0xFF; 4]);
    }

    #[test]
    fn z85_round_trips_a_key() {
        let key = z85_decode(CLIENT_PUBLIC).unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(z85_encode(&key).unwrap(), CLIENT_PUBLIC);
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(z85_decode(&z85_encode(&bytes).unwrap()).unwrap(), bytes);
    }

    #[test]
    fn z85_rejects_bad_input() {
        assert_eq!(z85_encode(&[1, 2, 3]), Err(Z85Error::BadLength(3)));
        assert_eq!(z85_decode("Hello"), Ok(vec![0x86, 0x4F, 0xD2, 0x6F]));
        assert_eq!(z85_decode("Hell"), Err(Z85Error::BadLength(4)));
        assert_eq!(z85_decode("Hel~o"), Err(Z85Error::BadChar(3)));
        assert_eq!(z85_decode("Hellé"), Err(Z85Error::BadLength(6)));
        assert_eq!(z85_decode("HelloWorl\""), Err(Z85Error::BadChar(9)));
        // 85^5 - 1 > u32::MAX: "#####" does not fit.
        assert_eq!(z85_decode("#####"), Err(Z85Error::Overflow(0)));
        assert!(Z85Error::BadChar(3).to_string().contains("offset 3"));
    }
}
