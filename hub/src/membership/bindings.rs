//! Bindings (hub.md §6.9): the PeerIds bound to an account, the bind codes that add one, and the
//! PeerSig proof every binding keeps.

#[cfg(test)]
mod proptests;

use libp2p::PeerId;
use shared::ids::Ed25519PeerId;

use super::{Error, Membership, Result, codes};
use crate::members::{self, State};
use crate::store::{self, BindCode, Binding, StoreError};
use crate::utc::millis;

/// Labels are shown to the account holder; keep them short.
const MAX_LABEL_CHARS: usize = 64;
/// Bind codes: 10 Crockford base32 characters (hub.md §6.9 rule 3).
pub(crate) const BIND_CODE_LEN: usize = 10;

/// A PeerSig that proved a peer's key on the request.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    pub(crate) peer: Ed25519PeerId,
    pub(crate) ts: i64,
    pub(crate) sig: String,
}

/// Checks and trims an optional device label (hub.md §6.10): at most [`MAX_LABEL_CHARS`], and
/// no control (Cc), format (Cf) or line/paragraph separator (Zl, Zp) characters. Format
/// characters include the bidi overrides and isolates and the zero-width characters, which
/// would make a label shown on the confirm page read as something else; letters of every
/// script, right-to-left ones included, stay allowed.
pub(crate) fn label(label: Option<&str>) -> Result<Option<String>> {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};
    let hidden = |c: char| {
        matches!(
            c.general_category(),
            G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
        )
    };
    match label.map(str::trim) {
        None | Some("") => Ok(None),
        Some(l) if l.chars().count() > MAX_LABEL_CHARS || l.chars().any(hidden) => {
            Err(Error::InvalidLabel)
        }
        Some(l) => Ok(Some(l.to_owned())),
    }
}

pub(crate) fn binding_for(
    account_id: &str,
    peer: &str,
    label: Option<String>,
    proof_ts: i64,
    proof_sig: &str,
    via: &str,
    now: i64,
) -> Binding {
    Binding {
        peer_id: peer.to_owned(),
        account_id: account_id.to_owned(),
        label,
        bound_via: via.to_owned(),
        proof_ts,
        proof_sig: proof_sig.to_owned(),
        bound_at: now,
    }
}

/// Inserts a binding; a PeerId bound already is [`Error::PeerAlreadyBound`].
pub(crate) async fn insert_binding_checked(
    tx: &mut sqlx::AnyConnection,
    binding: &Binding,
) -> Result<()> {
    match store::insert_binding(tx, binding).await {
        Err(StoreError::Conflict) => Err(Error::PeerAlreadyBound {
            peer: binding.peer_id.clone(),
        }),
        other => Ok(other?),
    }
}

impl Membership {
    /// `POST /api/v1/me/bind-codes`: a new single-use code shown as `XXXXX-XXXXX`.
    pub(crate) async fn create_bind_code(&self, account_id: &str) -> Result<(String, i64)> {
        let mut conn = self.store().acquire().await?;
        let account = store::get_account(&mut conn, account_id).await?;
        drop(conn);
        if account.state == State::Banned {
            return Err(Error::Banned {
                account_id: account.id,
            });
        }
        let code = codes::new_code(BIND_CODE_LEN);
        let now = self.now_ms();
        let expires_at = now + millis(self.config().membership.bind_code_ttl);
        self.store()
            .insert_bind_code(&BindCode {
                code_hash: codes::hash(&code),
                account_id: account_id.to_owned(),
                created_at: now,
                expires_at,
            })
            .await?;
        Ok((codes::grouped(&code, 5), expires_at))
    }

    /// `POST /api/v1/peers`: binds the signing peer with a bind code.
    pub(crate) async fn bind_with_code(
        &self,
        proof: &Proof,
        bind_code: &str,
        peer_label: Option<&str>,
    ) -> Result<(String, members::Standing)> {
        let label = label(peer_label)?;
        let code = codes::normalize_code(bind_code, BIND_CODE_LEN).ok_or(Error::InvalidBindCode)?;
        let now = self.now_ms();
        let peer = proof.peer.to_string();
        let mut tx = self.store().begin_write().await?;
        if store::find_binding(&mut tx, &peer).await?.is_some() {
            return Err(Error::PeerAlreadyBound { peer });
        }
        let account_id = store::mark_bind_code_consumed(&mut tx, &codes::hash(&code), &peer, now)
            .await?
            .ok_or(Error::InvalidBindCode)?;
        // Concurrent binds to one account take turns, so the peer count holds.
        store::lock_account(&mut tx, &account_id, now).await?;
        let account = store::get_account(&mut tx, &account_id).await?;
        if account.state == State::Banned {
            return Err(Error::Banned { account_id });
        }
        if store::count_bindings(&mut tx, &account_id).await?
            >= i64::from(self.config().membership.max_peers_per_account)
        {
            return Err(Error::TooManyPeers { account_id });
        }
        let binding = binding_for(
            &account_id,
            &peer,
            label,
            proof.ts,
            &proof.sig,
            "bind_code",
            now,
        );
        insert_binding_checked(&mut tx, &binding).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(&account_id, &[], "bind").await?;
        Ok((
            account_id,
            members::Standing {
                state: account.state,
                tier: account.tier,
                grace_until: account.grace_until,
            },
        ))
    }

    /// Unbinds a peer of an account: its rights end and its vouchers are revoked.
    pub(crate) async fn unbind(&self, account_id: &str, peer_id: &str) -> Result<()> {
        let mut tx = self.store().begin_write().await?;
        // A banned account keeps its peers: unbinding one would hand it back the default rights
        // of an open community, or let it join again under another address.
        if store::get_account(&mut tx, account_id).await?.state == State::Banned {
            return Err(Error::Banned {
                account_id: account_id.to_owned(),
            });
        }
        if !store::delete_binding(&mut tx, account_id, peer_id).await? {
            return Err(Error::NotFound {
                what: "binding",
                id: peer_id.to_owned(),
            });
        }
        let now = self.now_ms();
        self.revoke_in(&mut tx, &[peer_id.to_owned()], None, "unbind", now)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.apply_account(account_id, &[], "unbind").await
    }

    /// The bound peers of an account.
    pub(crate) async fn peers_of(&self, account_id: &str) -> Result<Vec<store::Binding>> {
        let mut conn = self.store().acquire().await?;
        Ok(store::list_bindings(&mut conn, account_id).await?)
    }

    /// The account a peer is bound to.
    pub(crate) async fn account_of_peer(&self, peer: &PeerId) -> Result<Option<String>> {
        let mut conn = self.store().acquire().await?;
        Ok(store::find_binding(&mut conn, &peer.to_string())
            .await?
            .map(|b| b.account_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(label(Some("  laptop ")).unwrap().as_deref(), Some("laptop"));
        assert_eq!(label(Some("")).unwrap(), None);
        assert!(label(Some(&"x".repeat(65))).is_err());
        assert!(label(Some("a\nb")).is_err());
    }
}
