//! What went through the transport: bound and connected endpoints, and
//! subscriptions — as libzmq sees them, not as they were spelled.

use std::collections::BTreeSet;

use bytes::Bytes;

#[derive(Debug, Default)]
pub(crate) struct Sets {
    pub(crate) bindings: BTreeSet<String>,
    pub(crate) connections: BTreeSet<String>,
    pub(crate) subscriptions: BTreeSet<Bytes>,
}

/// Removes the entry libzmq just removed: the endpoint as given if listed,
/// else the first of its other spellings that is (libzmq resolves a tcp
/// address when the string it was given is not one it knows).
pub(crate) fn remove_endpoint(set: &mut BTreeSet<String>, endpoint: &str, spellings: &[String]) {
    if set.remove(endpoint) {
        return;
    }
    if let Some(found) = spellings.iter().find(|s| set.contains(s.as_str())) {
        set.remove(found.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_spelling_first_then_resolved_ones() {
        let mut set: BTreeSet<String> = ["tcp://127.0.0.1:5555".to_string()].into();
        remove_endpoint(&mut set, "tcp://localhost:5555", &[]);
        assert_eq!(set.len(), 1, "nothing matched, nothing removed");
        remove_endpoint(
            &mut set,
            "tcp://localhost:5555",
            &["tcp://[::1]:5555".into(), "tcp://127.0.0.1:5555".into()],
        );
        assert!(set.is_empty());
    }
}
