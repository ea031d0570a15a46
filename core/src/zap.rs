//! ZAP, the ZeroMQ Authentication Protocol (RFC 27), as a pure policy.
//!
//! libzmq asks a ZAP handler, bound at [`ZAP_ENDPOINT`] in the same context,
//! whether a peer may complete its handshake. This module holds everything
//! that handler decides and nothing that does I/O: [`ZapRequest::parse`] reads
//! a request's frames, [`ZapPolicy`] decides like pyzmq's
//! `zmq.auth.Authenticator`, and [`ZapReply::to_frames`] builds the answer.
//! A driver's `Authenticator` only moves frames between a REP socket and
//! [`ZapPolicy::handle`]:
//!
//! ```
//! use aiozmq_core::zap::{ZapPolicy, ZapStatus};
//!
//! let mut policy = ZapPolicy::new();
//! policy.configure_plain("*", [("admin", "secret")]);
//!
//! // A request as a REP socket receives it (the envelope already removed).
//! let request: [&[u8]; 8] =
//!     [b"1.0", b"1", b"", b"127.0.0.1", b"", b"PLAIN", b"admin", b"secret"];
//! let reply = policy.handle(&request);
//! assert_eq!(reply.status, ZapStatus::Success);
//! assert_eq!(reply.user_id, "admin");
//! let frames = reply.to_frames(); // send these back on the REP socket
//! assert_eq!(&frames[2][..], b"200");
//! ```
//!
//! The policy compares a client's 32-byte CURVE key with the Z85 keys it was
//! configured with ([`crate::z85`]), and reports it as the user id.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use bytes::Bytes;

/// Z85 lives in [`crate::z85`]; these paths stay for existing callers.
pub use crate::z85::{z85_decode, z85_encode, Z85Error};
use crate::Multipart;

/// Where libzmq sends ZAP requests: a ZAP handler binds a REP (or ROUTER)
/// socket here, in the context whose sockets it authenticates.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// The only ZAP version there is; requests and replies carry it first.
pub const ZAP_VERSION: &[u8] = b"1.0";

/// The user id a NULL peer gets when it is admitted (pyzmq's choice).
pub const ANONYMOUS: &str = "anonymous";

/// The domain whose configuration applies to every domain that has none of
/// its own (and to requests with an empty domain).
pub const ANY_DOMAIN: &str = "*";

/// A security mechanism ZAP asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// No credentials; asked about only when the server sets `ZAP_DOMAIN`.
    Null,
    /// User name and password, in clear text.
    Plain,
    /// A CURVE client's long-term public key.
    Curve,
}

impl Mechanism {
    /// The mechanism's name as it appears on the wire (`"NULL"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
        }
    }
}

/// What the peer presented, by mechanism.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// NULL presents nothing.
    Null,
    /// PLAIN's user name and password.
    Plain {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// CURVE's client public key, 32 raw bytes.
    Curve {
        /// The key; [`z85_encode`] gives its usual text form.
        public_key: [u8; 32],
    },
}

impl fmt::Debug for Credentials {
    // Never print a password: requests end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Null => f.write_str("Null"),
            Credentials::Plain { username, .. } => f
                .debug_struct("Plain")
                .field("username", username)
                .field("password", &"<hidden>")
                .finish(),
            Credentials::Curve { public_key } => f
                .debug_struct("Curve")
                .field("public_key", &z85_encode(public_key).unwrap_or_default())
                .finish(),
        }
    }
}

/// One well-formed ZAP request (RFC 27), as libzmq sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// Opaque; echoed in the reply so libzmq can match it.
    pub request_id: Bytes,
    /// The server socket's `ZAP_DOMAIN` (may be empty).
    pub domain: String,
    /// The peer's IP address as text, e.g. `"127.0.0.1"` (empty for non-IP transports).
    pub address: String,
    /// The server socket's routing id for the connection (binary, often empty).
    pub identity: Bytes,
    /// The mechanism and what the peer presented for it.
    pub credentials: Credentials,
}

/// Why a ZAP request is malformed; the handler answers it with status 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapRequestError {
    /// The request id, if the request had one (else empty): the 500 reply echoes it.
    pub request_id: Bytes,
    /// What was wrong, in words (also the reply's status text).
    pub reason: &'static str,
}

impl fmt::Display for ZapRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed ZAP request: {}", self.reason)
    }
}

impl std::error::Error for ZapRequestError {}

impl ZapRequest {
    /// Parses a request's frames as a REP socket receives them: version,
    /// request id, domain, address, identity, mechanism, then the mechanism's
    /// credentials (PLAIN: user name and password; CURVE: one 32-byte key;
    /// NULL: none). Anything else is an error that carries the request id
    /// when there was one, so a 500 reply can still be matched.
    pub fn parse<F: AsRef<[u8]>>(frames: &[F]) -> Result<ZapRequest, ZapRequestError> {
        let request_id = frames
            .get(1)
            .map(|f| Bytes::copy_from_slice(f.as_ref()))
            .unwrap_or_default();
        let fail = |reason| ZapRequestError {
            request_id: request_id.clone(),
            reason,
        };
        if frames.len() < 6 {
            return Err(fail("Not enough frames"));
        }
        if frames[0].as_ref() != ZAP_VERSION {
            return Err(fail("Invalid version"));
        }
        let text = |frame: &F, what| {
            std::str::from_utf8(frame.as_ref())
                .map(str::to_owned)
                .map_err(|_| fail(what))
        };
        let domain = text(&frames[2], "Domain is not UTF-8")?;
        let address = text(&frames[3], "Address is not UTF-8")?;
        let identity = Bytes::copy_from_slice(frames[4].as_ref());
        let creds = &frames[6..];
        let credentials = match frames[5].as_ref() {
            b"NULL" if creds.is_empty() => Credentials::Null,
            b"PLAIN" if creds.len() == 2 => Credentials::Plain {
                username: text(&creds[0], "User name is not UTF-8")?,
                password: text(&creds[1], "Password is not UTF-8")?,
            },
            b"CURVE" if creds.len() == 1 => Credentials::Curve {
                public_key: creds[0]
                    .as_ref()
                    .try_into()
                    .map_err(|_| fail("CURVE key is not 32 bytes"))?,
            },
            b"NULL" | b"PLAIN" | b"CURVE" => return Err(fail("Invalid credentials")),
            _ => return Err(fail("Unknown mechanism")),
        };
        Ok(ZapRequest {
            request_id,
            domain,
            address,
            identity,
            credentials,
        })
    }

    /// The mechanism the request is about.
    pub fn mechanism(&self) -> Mechanism {
        match self.credentials {
            Credentials::Null => Mechanism::Null,
            Credentials::Plain { .. } => Mechanism::Plain,
            Credentials::Curve { .. } => Mechanism::Curve,
        }
    }
}

/// A ZAP status code (RFC 27).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZapStatus {
    /// 200: the peer is admitted.
    Success,
    /// 300: a temporary error; the peer may retry. [`ZapPolicy`] never answers it.
    TemporaryError,
    /// 400: authentication refused.
    Failure,
    /// 500: the request was malformed or the handler failed.
    InternalError,
}

impl ZapStatus {
    /// The code as the three ASCII digits sent on the wire.
    pub fn code(self) -> &'static str {
        match self {
            ZapStatus::Success => "200",
            ZapStatus::TemporaryError => "300",
            ZapStatus::Failure => "400",
            ZapStatus::InternalError => "500",
        }
    }
}

/// A ZAP reply: what [`ZapPolicy::handle`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapReply {
    /// The request's id (empty if the request had none).
    pub request_id: Bytes,
    /// The decision.
    pub status: ZapStatus,
    /// Why, in words (e.g. `"OK"`, `"Invalid password"`).
    pub status_text: String,
    /// Who the peer is when admitted: the PLAIN user name, the CURVE key in
    /// Z85, or [`ANONYMOUS`] for NULL; empty when refused. libzmq hands it
    /// to the application as each message's `User-Id` property.
    pub user_id: String,
}

impl ZapReply {
    /// The reply's six frames as a REP socket sends them (the REP socket adds
    /// the empty delimiter; on a ROUTER, send the peer's routing id and an empty
    /// frame first): version, request id, status code, status text, user id,
    /// and empty metadata.
    pub fn to_frames(&self) -> Multipart {
        Multipart::from_iter([
            Bytes::from_static(ZAP_VERSION),
            self.request_id.clone(),
            Bytes::from_static(self.status.code().as_bytes()),
            Bytes::from(self.status_text.clone()),
            Bytes::from(self.user_id.clone()),
            Bytes::new(),
        ])
    }

    fn new(request_id: Bytes, status: ZapStatus, text: &str, user_id: String) -> ZapReply {
        ZapReply {
            request_id,
            status,
            status_text: text.to_owned(),
            user_id,
        }
    }
}

/// Which CURVE client keys a domain admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CurveRule {
    Any,
    /// Z85 text, compared with the Z85 form of the client's key.
    Keys(BTreeSet<String>),
}

/// The authentication policy, like pyzmq's `zmq.auth.Authenticator`, without
/// the socket. Until configured it admits every NULL peer and refuses every
/// PLAIN and CURVE peer.
///
/// Rules, in order:
/// 1. A malformed request is answered 500.
/// 2. Addresses: if the allow list is not empty, only its addresses pass and
///    the deny list is ignored (pyzmq refuses to configure both; here allow
///    wins); otherwise a denied address is refused (400).
/// 3. NULL: admitted once the address passed.
/// 4. PLAIN: the user name and password must match the domain's passwords.
/// 5. CURVE: the client key must be one of the domain's keys, or the domain
///    admits any key.
///
/// The configuration for a domain is its own if it has one, else that of
/// [`ANY_DOMAIN`] (`"*"`); an empty domain uses `"*"`. Configuring a domain
/// again replaces its passwords or keys, as in pyzmq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZapPolicy {
    allow: BTreeSet<String>,
    deny: BTreeSet<String>,
    passwords: HashMap<String, HashMap<String, String>>,
    curve: HashMap<String, CurveRule>,
}

impl ZapPolicy {
    /// A policy that admits NULL peers and refuses PLAIN and CURVE ones.
    pub fn new() -> ZapPolicy {
        ZapPolicy::default()
    }

    /// Adds IP addresses to the allow list: once it is not empty, peers from
    /// any other address are refused, whatever their credentials. PLAIN and
    /// CURVE peers from an allowed address must still authenticate.
    pub fn allow(&mut self, addresses: impl IntoIterator<Item = impl Into<String>>) {
        self.allow.extend(addresses.into_iter().map(Into::into));
    }

    /// Adds IP addresses to the deny list: peers from them are refused. Ignored
    /// while the allow list is not empty.
    pub fn deny(&mut self, addresses: impl IntoIterator<Item = impl Into<String>>) {
        self.deny.extend(addresses.into_iter().map(Into::into));
    }

    /// Sets the `(user name, password)` pairs PLAIN peers of `domain` may use
    /// (`"*"`: every domain without its own), replacing the domain's previous ones.
    pub fn configure_plain(
        &mut self,
        domain: &str,
        passwords: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) {
        let passwords = passwords
            .into_iter()
            .map(|(u, p)| (u.into(), p.into()))
            .collect();
        self.passwords.insert(domain.to_owned(), passwords);
    }

    /// Sets the CURVE client public keys (Z85, 40 characters) admitted in
    /// `domain` (`"*"`: every domain without its own), replacing the domain's
    /// previous keys or "any". A key that is not valid Z85 never matches.
    pub fn configure_curve(
        &mut self,
        domain: &str,
        allowed_public_keys: impl IntoIterator<Item = impl Into<String>>,
    ) {
        let keys = allowed_public_keys.into_iter().map(Into::into).collect();
        self.curve.insert(domain.to_owned(), CurveRule::Keys(keys));
    }

    /// Admits any CURVE client key in `domain` (`"*"`: every domain without
    /// its own): the connection is still encrypted, but not authenticated.
    pub fn configure_curve_any(&mut self, domain: &str) {
        self.curve.insert(domain.to_owned(), CurveRule::Any);
    }

    /// Answers one ZAP request given as the frames a REP socket received.
    /// Never panics: a malformed request gets a well-formed 500 reply.
    pub fn handle<F: AsRef<[u8]>>(&self, frames: &[F]) -> ZapReply {
        match ZapRequest::parse(frames) {
            Ok(request) => self.authenticate(&request),
            Err(e) => ZapReply::new(
                e.request_id,
                ZapStatus::InternalError,
                e.reason,
                String::new(),
            ),
        }
    }

    /// Decides on a parsed request: 200 with the user id, or 400 with the reason.
    pub fn authenticate(&self, request: &ZapRequest) -> ZapReply {
        let refuse = |text: &str| {
            ZapReply::new(
                request.request_id.clone(),
                ZapStatus::Failure,
                text,
                String::new(),
            )
        };
        let admit = |user_id: String| {
            ZapReply::new(
                request.request_id.clone(),
                ZapStatus::Success,
                "OK",
                user_id,
            )
        };
        if !self.allow.is_empty() {
            if !self.allow.contains(&request.address) {
                return refuse("Address not in allow list");
            }
        } else if self.deny.contains(&request.address) {
            return refuse("Address is denied");
        }
        match &request.credentials {
            Credentials::Null => admit(ANONYMOUS.to_owned()),
            Credentials::Plain { username, password } => {
                let Some(users) = for_domain(&self.passwords, &request.domain) else {
                    return refuse(if self.passwords.is_empty() {
                        "No passwords defined"
                    } else {
                        "Invalid domain"
                    });
                };
                match users.get(username) {
                    Some(p) if p == password => admit(username.clone()),
                    Some(_) => refuse("Invalid password"),
                    None => refuse("Invalid username"),
                }
            }
            Credentials::Curve { public_key } => {
                let z85 = z85_encode(public_key).expect("32 is a multiple of 4");
                match for_domain(&self.curve, &request.domain) {
                    Some(CurveRule::Any) => admit(z85),
                    Some(CurveRule::Keys(keys)) if keys.contains(&z85) => admit(z85),
                    Some(CurveRule::Keys(_)) => refuse("Unknown key"),
                    None => refuse("Unknown domain"),
                }
            }
        }
    }
}

/// The domain's own entry, else the one for every domain.
fn for_domain<'a, V>(map: &'a HashMap<String, V>, domain: &str) -> Option<&'a V> {
    map.get(domain).or_else(|| map.get(ANY_DOMAIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    // libzmq's own test keys (tests/testutil_security.hpp).
    const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

    fn request(mechanism: &str, domain: &str, address: &str, creds: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut frames: Vec<Vec<u8>> = vec![
            b"1.0".to_vec(),
            b"7".to_vec(),
            domain.into(),
            address.into(),
            b"id".to_vec(),
            mechanism.into(),
        ];
        frames.extend(creds.iter().map(|c| c.to_vec()));
        frames
    }

    fn null(address: &str) -> Vec<Vec<u8>> {
        request("NULL", "", address, &[])
    }

    fn plain(domain: &str, user: &str, password: &str) -> Vec<Vec<u8>> {
        request(
            "PLAIN",
            domain,
            "127.0.0.1",
            &[user.as_bytes(), password.as_bytes()],
        )
    }

    fn curve(domain: &str, key_z85: &str) -> Vec<Vec<u8>> {
        let key = z85_decode(key_z85).unwrap();
        request("CURVE", domain, "127.0.0.1", &[&key])
    }

    fn status(policy: &ZapPolicy, frames: &[Vec<u8>]) -> (ZapStatus, String, String) {
        let r = policy.handle(frames);
        (r.status, r.status_text, r.user_id)
    }

    #[test]
    fn unconfigured_admits_null_and_refuses_plain_and_curve() {
        let policy = ZapPolicy::new();
        let (s, _, user) = status(&policy, &null("10.0.0.1"));
        assert_eq!((s, user.as_str()), (ZapStatus::Success, ANONYMOUS));
        let (s, text, user) = status(&policy, &plain("", "u", "p"));
        assert_eq!(
            (s, text.as_str(), user.as_str()),
            (ZapStatus::Failure, "No passwords defined", "")
        );
        let (s, text, _) = status(&policy, &curve("", CLIENT_PUBLIC));
        assert_eq!((s, text.as_str()), (ZapStatus::Failure, "Unknown domain"));
    }

    #[test]
    fn deny_refuses_only_denied_addresses() {
        let mut policy = ZapPolicy::new();
        policy.deny(["127.0.0.1"]);
        let (s, text, _) = status(&policy, &null("127.0.0.1"));
        assert_eq!(
            (s, text.as_str()),
            (ZapStatus::Failure, "Address is denied")
        );
        assert_eq!(status(&policy, &null("127.0.0.2")).0, ZapStatus::Success);
        // Credentials do not help a denied address.
        policy.configure_plain("*", [("u", "p")]);
        assert_eq!(status(&policy, &plain("", "u", "p")).0, ZapStatus::Failure);
    }

    #[test]
    fn allow_admits_only_allowed_addresses() {
        let mut policy = ZapPolicy::new();
        policy.allow(["127.0.0.1", "::1"]);
        assert_eq!(status(&policy, &null("127.0.0.1")).0, ZapStatus::Success);
        assert_eq!(status(&policy, &null("::1")).0, ZapStatus::Success);
        let (s, text, _) = status(&policy, &null("10.0.0.1"));
        assert_eq!(
            (s, text.as_str()),
            (ZapStatus::Failure, "Address not in allow list")
        );
    }

    #[test]
    fn allow_wins_over_deny() {
        let mut policy = ZapPolicy::new();
        policy.deny(["127.0.0.1", "10.0.0.1"]);
        policy.allow(["127.0.0.1"]);
        assert_eq!(status(&policy, &null("127.0.0.1")).0, ZapStatus::Success);
        assert_eq!(status(&policy, &null("10.0.0.2")).0, ZapStatus::Failure);
    }

    #[test]
    fn allowed_address_must_still_authenticate() {
        let mut policy = ZapPolicy::new();
        policy.allow(["127.0.0.1"]);
        policy.configure_plain("*", [("u", "p")]);
        assert_eq!(status(&policy, &plain("", "u", "x")).0, ZapStatus::Failure);
        assert_eq!(
            status(&policy, &curve("", CLIENT_PUBLIC)).0,
            ZapStatus::Failure
        );
        assert_eq!(status(&policy, &plain("", "u", "p")).0, ZapStatus::Success);
    }

    #[test]
    fn plain_checks_user_and_password() {
        let mut policy = ZapPolicy::new();
        policy.configure_plain("*", [("admin", "secret"), ("guest", "")]);
        let (s, text, user) = status(&policy, &plain("", "admin", "secret"));
        assert_eq!(
            (s, text.as_str(), user.as_str()),
            (ZapStatus::Success, "OK", "admin")
        );
        assert_eq!(
            status(&policy, &plain("", "guest", "")).0,
            ZapStatus::Success
        );
        let (s, text, user) = status(&policy, &plain("", "admin", "wrong"));
        assert_eq!(
            (s, text.as_str(), user.as_str()),
            (ZapStatus::Failure, "Invalid password", "")
        );
        let (_, text, _) = status(&policy, &plain("", "nobody", "secret"));
        assert_eq!(text, "Invalid username");
    }

    #[test]
    fn plain_is_per_domain_with_star_for_the_rest() {
        let mut policy = ZapPolicy::new();
        policy.configure_plain("global", [("a", "1")]);
        let (_, text, _) = status(&policy, &plain("other", "a", "1"));
        assert_eq!(text, "Invalid domain");
        assert_eq!(
            status(&policy, &plain("global", "a", "1")).0,
            ZapStatus::Success
        );

        policy.configure_plain("*", [("b", "2")]);
        assert_eq!(
            status(&policy, &plain("other", "b", "2")).0,
            ZapStatus::Success
        );
        assert_eq!(status(&policy, &plain("", "b", "2")).0, ZapStatus::Success);
        // A domain with its own passwords does not fall back to "*".
        assert_eq!(
            status(&policy, &plain("global", "b", "2")).0,
            ZapStatus::Failure
        );
        // Configuring again replaces.
        policy.configure_plain("global", [("c", "3")]);
        assert_eq!(
            status(&policy, &plain("global", "a", "1")).0,
            ZapStatus::Failure
        );
        assert_eq!(
            status(&policy, &plain("global", "c", "3")).0,
            ZapStatus::Success
        );
    }

    #[test]
    fn curve_checks_allowed_keys_and_reports_the_key() {
        let other = z85_encode(&[7; 32]).unwrap();
        let mut policy = ZapPolicy::new();
        policy.configure_curve("*", [CLIENT_PUBLIC]);
        let (s, _, user) = status(&policy, &curve("", CLIENT_PUBLIC));
        assert_eq!((s, user.as_str()), (ZapStatus::Success, CLIENT_PUBLIC));
        let (s, text, user) = status(&policy, &curve("", &other));
        assert_eq!(
            (s, text.as_str(), user.as_str()),
            (ZapStatus::Failure, "Unknown key", "")
        );
        // A bad configured key never matches and does not break the others.
        policy.configure_curve("d", ["not z85", CLIENT_PUBLIC]);
        assert_eq!(
            status(&policy, &curve("d", CLIENT_PUBLIC)).0,
            ZapStatus::Success
        );
    }

    #[test]
    fn curve_any_is_per_domain() {
        let key = z85_encode(&[9; 32]).unwrap();
        let mut policy = ZapPolicy::new();
        policy.configure_curve_any("open");
        assert_eq!(status(&policy, &curve("open", &key)).2, key);
        assert_eq!(
            status(&policy, &curve("closed", &key)).0,
            ZapStatus::Failure
        );
        policy.configure_curve("closed", [CLIENT_PUBLIC]);
        policy.configure_curve_any("*");
        assert_eq!(
            status(&policy, &curve("closed", &key)).0,
            ZapStatus::Failure
        );
        assert_eq!(
            status(&policy, &curve("elsewhere", &key)).0,
            ZapStatus::Success
        );
        // configure_curve replaces "any".
        policy.configure_curve("open", [CLIENT_PUBLIC]);
        assert_eq!(status(&policy, &curve("open", &key)).0, ZapStatus::Failure);
    }

    #[test]
    fn malformed_requests_get_500_echoing_the_request_id() {
        let policy = ZapPolicy::new();
        let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
            (vec![], "Not enough frames"),
            (vec![b"1.0".to_vec()], "Not enough frames"),
            (null("a")[..5].to_vec(), "Not enough frames"),
            (
                {
                    let mut f = null("a");
                    f[0] = b"2.0".to_vec();
                    f
                },
                "Invalid version",
            ),
            (request("GSSAPI", "", "a", &[b"x"]), "Unknown mechanism"),
            (request("NULL", "", "a", &[b"extra"]), "Invalid credentials"),
            (
                request("PLAIN", "", "a", &[b"only user"]),
                "Invalid credentials",
            ),
            (request("CURVE", "", "a", &[]), "Invalid credentials"),
            (
                request("CURVE", "", "a", &[&[0; 31]]),
                "CURVE key is not 32 bytes",
            ),
            (
                request("CURVE", "", "a", &[&[0; 33]]),
                "CURVE key is not 32 bytes",
            ),
            (request("NULL", "\u{0}ok", "\u{7f}", &[]), ""),
            (
                {
                    let mut f = null("a");
                    f[2] = vec![0xff];
                    f
                },
                "Domain is not UTF-8",
            ),
            (
                {
                    let mut f = null("a");
                    f[3] = vec![0xc3];
                    f
                },
                "Address is not UTF-8",
            ),
            (
                request("PLAIN", "", "a", &[b"\xff", b"p"]),
                "User name is not UTF-8",
            ),
            (
                request("PLAIN", "", "a", &[b"u", b"\xfe"]),
                "Password is not UTF-8",
            ),
        ];
        for (frames, reason) in cases {
            let reply = policy.handle(&frames);
            if reason.is_empty() {
                // Odd but valid text: not malformed.
                assert_eq!(reply.status, ZapStatus::Success);
                continue;
            }
            assert_eq!(reply.status, ZapStatus::InternalError, "{reason}");
            assert_eq!(reply.status_text, reason);
            assert_eq!(reply.user_id, "");
            let id: &[u8] = frames.get(1).map(|f| &f[..]).unwrap_or(b"");
            assert_eq!(&reply.request_id[..], id, "{reason}");
        }
    }

    #[test]
    fn parse_reads_every_field() {
        let req = ZapRequest::parse(&plain("dom", "user", "pw")).unwrap();
        assert_eq!(&req.request_id[..], b"7");
        assert_eq!(req.domain, "dom");
        assert_eq!(req.address, "127.0.0.1");
        assert_eq!(&req.identity[..], b"id");
        assert_eq!(req.mechanism(), Mechanism::Plain);
        assert_eq!(
            req.credentials,
            Credentials::Plain {
                username: "user".into(),
                password: "pw".into()
            }
        );
        assert!(!format!("{req:?}").contains("pw\""), "password hidden");
        let req = ZapRequest::parse(&curve("", CLIENT_PUBLIC)).unwrap();
        assert_eq!(req.mechanism(), Mechanism::Curve);
        assert!(format!("{req:?}").contains(CLIENT_PUBLIC));
        assert_eq!(Mechanism::Null.as_str(), "NULL");
    }

    #[test]
    fn reply_frames_follow_rfc_27() {
        let mut policy = ZapPolicy::new();
        policy.configure_plain("*", [("admin", "secret")]);
        let frames = policy.handle(&plain("", "admin", "secret")).to_frames();
        let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        assert_eq!(frames, [&b"1.0"[..], b"7", b"200", b"OK", b"admin", b""]);
        let frames = policy.handle(&plain("", "admin", "x")).to_frames();
        assert_eq!(&frames[2][..], b"400");
        assert_eq!(&frames[4][..], b"");
        assert_eq!(ZapStatus::TemporaryError.code(), "300");
        assert_eq!(ZapStatus::InternalError.code(), "500");
    }
}
