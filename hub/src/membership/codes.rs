//! The secrets and codes of membership (hub.md §6.1, §6.8, §6.9, §9): email tokens and session ids
//! (32 random bytes, b64u, stored as SHA-256 hex), Crockford base32 bind and invite codes, and
//! email address normalization.

#[cfg(test)]
mod proptests;

use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// Crockford base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh secret: 32 random bytes, b64u (43 characters).
pub(crate) fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    shared::signing::b64u_encode(&bytes)
}

/// The stored form of a secret: SHA-256, lower-case hex.
pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `text` has the shape of a secret from [`new_secret`] (checked before any lookup).
pub(crate) fn is_secret_shaped(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `len` random Crockford base32 characters.
pub(crate) fn new_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CROCKFORD[rng.random_range(0..32)]))
        .collect()
}

/// A code in groups of `group` characters joined by `-` (`7K2QF-9XM3D`).
pub(crate) fn grouped(code: &str, group: usize) -> String {
    code.as_bytes()
        .chunks(group)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalizes typed input of a code of `len` characters: upper-case, `-` and spaces removed,
/// `O`→`0`, `I`/`L`→`1` (hub.md §6.9 rule 3). `None` when it cannot be such a code.
pub(crate) fn normalize_code(input: &str, len: usize) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (code.len() == len && code.bytes().all(|b| CROCKFORD.contains(&b))).then_some(code)
}

/// Normalizes an email address (hub.md §6.1 rule 1): trimmed, lower-cased, ≤ 254 bytes, one `@`,
/// a local part of 1–64 printable ASCII bytes without spaces, a domain of ≥ 2 labels of
/// `[a-z0-9-]{1,63}`. `None` when it is not such an address.
pub(crate) fn normalize_email(input: &str) -> Option<String> {
    let email = input.trim().to_ascii_lowercase();
    if email.len() > 254 || !email.is_ascii() {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'@' | b'<' | b'>' | b'"' | b','));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (local_ok && domain_ok).then_some(email)
}

/// A masked address for pages and the token check: `a***@example.org`.
pub(crate) fn email_hint(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_b64u_chars_and_hash_to_hex() {
        let secret = new_secret();

        assert!(is_secret_shaped(&secret), "{secret}");
        assert_ne!(secret, new_secret());
        assert_eq!(hash("abc").len(), 64);
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!is_secret_shaped("short"));
        assert!(!is_secret_shaped(&format!("{}=", &secret[..42])));
    }

    #[test]
    fn codes_normalize_lookalikes_and_separators() {
        let code = new_code(10);

        assert_eq!(
            normalize_code(&grouped(&code, 5), 10).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(
            normalize_code("7k2qf-9xm3d", 10).as_deref(),
            Some("7K2QF9XM3D")
        );
        assert_eq!(
            normalize_code("OIL23 45678", 10).as_deref(),
            Some("0112345678")
        );
        assert_eq!(normalize_code("7K2QF-9XM3", 10), None);
        assert_eq!(
            normalize_code("7K2QF-9XM3U", 10),
            None,
            "U is not Crockford"
        );
        assert_eq!(normalize_code(&"A".repeat(100), 10), None);
        assert_eq!(grouped("4F7K2MX9QH3D", 4), "4F7K-2MX9-QH3D");
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ann.Lee+goop@Example.ORG ").as_deref(),
            Some("ann.lee+goop@example.org")
        );
        for bad in [
            "",
            "ann",
            "ann@example",
            "a@b@example.org",
            "ann lee@example.org",
            "ann@exa_mple.org",
            "ann@.org",
            "ann@example..org",
            "ann\r\nbcc:x@example.org",
            "ännä@example.org",
            "<ann>@example.org",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        let long_local = format!("{}@example.org", "a".repeat(65));
        let long_label = format!("ann@{}.org", "a".repeat(64));
        assert_eq!(normalize_email(&long_local), None);
        assert_eq!(normalize_email(&long_label), None);
    }

    #[test]
    fn hint_masks_the_local_part() {
        assert_eq!(email_hint("ann@example.org"), "a***@example.org");
    }
}
