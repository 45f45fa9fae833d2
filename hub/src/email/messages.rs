//! The texts of the hub's mail (hub.md §6.8): the subject and body of each email link, and the
//! Message-ID host. Membership decides what to send; this module words it.

use crate::membership::TokenPurpose;

/// A message's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) subject: String,
    pub(crate) body: String,
}

/// The device a join link also binds, as the mail names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Device<'a> {
    pub(crate) peer_id: &'a str,
    pub(crate) label: Option<&'a str>,
}

/// The mail of an email link for `purpose` in `community`: `link` opens it until `expires_at`
/// (ms); a join link that binds a device says so.
pub(crate) fn email_link(
    community: &str,
    purpose: TokenPurpose,
    link: &str,
    expires_at: i64,
    device: Option<Device<'_>>,
) -> Text {
    let (subject, intro) = match purpose {
        TokenPurpose::Login => (
            format!("Sign in to {community}"),
            format!("Open this link to sign in to {community}:"),
        ),
        TokenPurpose::ChangeEmail => (
            format!("Confirm your email for {community}"),
            format!("Open this link to use this address for your {community} account:"),
        ),
        TokenPurpose::Join => (
            format!("Confirm your email for {community}"),
            format!("Open this link to confirm your email address for {community}:"),
        ),
    };
    let device = match device {
        Some(Device {
            peer_id,
            label: Some(label),
        }) => format!(
            "\nThis link can also add the device \"{label}\" ({peer_id}) to your account; the page names it and lets you confirm without it.\n"
        ),
        Some(Device {
            peer_id,
            label: None,
        }) => format!(
            "\nThis link can also add the device {peer_id} to your account; the page names it and lets you confirm without it.\n"
        ),
        None => String::new(),
    };
    let body = format!(
        "{intro}\n\n{link}\n\nThe link expires at {} UTC.\n{device}\nIf you did not ask for this, ignore this message.\n",
        crate::utc::format(expires_at)
    );
    Text { subject, body }
}

/// The notice to an account's former address after a change to `new_hint` (masked): `link` moves
/// the account back until `expires_at` (ms) (hub.md §6.10).
pub(crate) fn address_changed(
    community: &str,
    new_hint: &str,
    link: &str,
    expires_at: i64,
) -> Text {
    Text {
        subject: format!("Your address at {community} was changed"),
        body: format!(
            "The account at {community} that used this address now uses {new_hint}, and its sessions were ended.\n\n\
             If you did not make this change, open this link to move the account back to this address:\n\n\
             {link}\n\nThe link works until {} UTC. If you made the change, ignore this message.\n",
            crate::utc::format(expires_at)
        ),
    }
}

/// The `Message-ID` of mail `id` sent by the hub at `external_url`.
pub(crate) fn message_id(id: &str, external_url: &str) -> String {
    format!("<{id}@{}>", mail_host(external_url))
}

/// The host of the external URL, for Message-IDs.
fn mail_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
        _ if host.is_empty() => "goop-hub",
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_host_is_the_bare_host() {
        assert_eq!(mail_host("https://hub.example.org/base"), "hub.example.org");
        assert_eq!(mail_host("http://127.0.0.1:8787"), "127.0.0.1");
        assert_eq!(mail_host(""), "goop-hub");
    }
}
