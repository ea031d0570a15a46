//! The ZAP policy never panics and always answers with a well-formed RFC 27
//! reply, whatever frames libzmq (or anyone able to reach the ZAP endpoint)
//! sends.

use aiozmq_core::zap::{z85_decode, z85_encode, ZapPolicy, ZapStatus};
use proptest::prelude::*;

/// A policy with every kind of rule, so random requests reach every branch.
fn policy() -> ZapPolicy {
    let mut p = ZapPolicy::new();
    p.deny(["10.0.0.9"]);
    p.configure_plain("*", [("admin", "secret")]);
    p.configure_plain("dom", [("user", "pw")]);
    p.configure_curve("*", [z85_encode(&[1; 32]).unwrap()]);
    p.configure_curve_any("open");
    p
}

fn valid_request() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let head = (
        prop::collection::vec(any::<u8>(), 0..4),
        prop::sample::select(vec!["", "dom", "open", "*"]),
        prop::sample::select(vec!["127.0.0.1", "10.0.0.9", ""]),
    );
    let creds = prop_oneof![
        Just(("NULL", vec![])),
        Just(("PLAIN", vec![b"admin".to_vec(), b"secret".to_vec()])),
        Just(("PLAIN", vec![b"user".to_vec(), b"pw".to_vec()])),
        ("\\PC{0,8}", "\\PC{0,8}").prop_map(|(u, p)| ("PLAIN", vec![u.into(), p.into()])),
        prop::collection::vec(any::<u8>(), 32).prop_map(|k| ("CURVE", vec![k])),
        Just(("CURVE", vec![vec![1; 32]])),
    ];
    (head, creds).prop_map(|((id, domain, address), (mechanism, creds))| {
        let mut frames = vec![
            b"1.0".to_vec(),
            id,
            domain.into(),
            address.into(),
            vec![],
            mechanism.into(),
        ];
        frames.extend(creds);
        frames
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Insert(usize, Vec<u8>),
    Replace(usize, Vec<u8>),
    FlipByte(usize, usize, u8),
    Truncate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), bytes()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), bytes()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), any::<usize>(), 1..=255u8)
            .prop_map(|(i, j, x)| Mutation::FlipByte(i, j, x)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Truncate(i, n)),
    ]
}

fn mutate(mut frames: Vec<Vec<u8>>, mutations: &[Mutation]) -> Vec<Vec<u8>> {
    for m in mutations {
        let n = frames.len();
        match m.clone() {
            Mutation::Remove(i) if n > 0 => {
                frames.remove(i % n);
            }
            Mutation::Insert(i, b) => frames.insert(i % (n + 1), b),
            Mutation::Replace(i, b) if n > 0 => frames[i % n] = b,
            Mutation::FlipByte(i, j, x) if n > 0 => {
                let f = &mut frames[i % n];
                if !f.is_empty() {
                    let k = j % f.len();
                    f[k] ^= x;
                }
            }
            Mutation::Truncate(i, len) if n > 0 => {
                let f = &mut frames[i % n];
                f.truncate(len % (f.len() + 1));
            }
            _ => {}
        }
    }
    frames
}

/// The reply must be what libzmq accepts: RFC 27's six frames (the REP socket
/// adds the delimiter), the request id echoed, a known status, and a user id
/// only on success.
fn check_reply(policy: &ZapPolicy, frames: &[Vec<u8>]) -> Result<ZapStatus, TestCaseError> {
    let reply = policy.handle(frames);
    let wire = reply.to_frames();
    prop_assert_eq!(wire.len(), 6);
    prop_assert_eq!(&wire[0][..], b"1.0");
    let id: &[u8] = frames.get(1).map(|f| &f[..]).unwrap_or(b"");
    prop_assert_eq!(&wire[1][..], id);
    prop_assert!(
        [&b"200"[..], b"300", b"400", b"500"].contains(&&wire[2][..]),
        "status {:?}",
        wire[2]
    );
    prop_assert!(!wire[3].is_empty(), "status text says why");
    if reply.status == ZapStatus::Success {
        prop_assert!(!wire[4].is_empty());
    } else {
        prop_assert!(wire[4].is_empty(), "no user id unless admitted");
    }
    prop_assert!(wire[5].is_empty(), "no metadata");
    // Nobody from the denied address is ever admitted.
    if frames.get(3).map(|a| &a[..]) == Some(b"10.0.0.9") {
        prop_assert_ne!(reply.status, ZapStatus::Success);
    }
    Ok(reply.status)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_frames_get_a_well_formed_reply(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..12),
    ) {
        check_reply(&policy(), &frames)?;
    }

    #[test]
    fn random_text_frames_get_a_well_formed_reply(
        frames in prop::collection::vec(
            prop::sample::select(vec![
                &b"1.0"[..], b"", b"NULL", b"PLAIN", b"CURVE", b"admin", b"secret",
                b"127.0.0.1", b"10.0.0.9", b"dom", b"*", &[1; 32],
            ]).prop_map(<[u8]>::to_vec),
            0..12,
        ),
    ) {
        check_reply(&policy(), &frames)?;
    }

    #[test]
    fn mutated_requests_get_a_well_formed_reply(
        frames in valid_request(),
        mutations in prop::collection::vec(mutation(), 0..4),
    ) {
        let frames = mutate(frames, &mutations);
        check_reply(&policy(), &frames)?;
    }

    #[test]
    fn valid_requests_are_never_internal_errors(frames in valid_request()) {
        let status = check_reply(&policy(), &frames)?;
        prop_assert_ne!(status, ZapStatus::InternalError);
    }

    #[test]
    fn z85_round_trips(data in prop::collection::vec(any::<[u8; 4]>(), 0..16)) {
        let data: Vec<u8> = data.concat();
        let text = z85_encode(&data).unwrap();
        prop_assert_eq!(text.len(), data.len() / 4 * 5);
        prop_assert_eq!(z85_decode(&text).unwrap(), data);
    }

    #[test]
    fn z85_decode_never_panics(text in ".{0,50}") {
        if let Ok(bytes) = z85_decode(&text) {
            prop_assert_eq!(z85_encode(&bytes).unwrap(), text);
        }
    }
}
