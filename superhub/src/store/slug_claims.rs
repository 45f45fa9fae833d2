//! `slug_claims` (superhub.md §5.4): per (slug, hub) the best evidence seen that the hub claimed the
//! slug — the smallest `claimed_at`. Resolve computes the winner among held claims from these rows.

use sqlx::AnyConnection;

use super::StoreError;
use super::changes::{ChangeKind, append_change};

/// Evidence for a (slug, hub) pair.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The slug claimed.
    pub slug: &'a str,
    /// The hub claiming it.
    pub hub_id: &'a str,
    /// The record's `issued_at`: when the hub claimed it.
    pub claimed_at: i64,
    /// When a super hub accepted the record.
    pub witnessed_at: i64,
    /// The hub-signed record envelope carrying the slug (JSON text).
    pub envelope: &'a str,
    /// `local`, or the id of the peer super hub that sent the evidence.
    pub source: &'a str,
}

/// The change key of a claim.
pub fn claim_key(slug: &str, hub_id: &str) -> String {
    format!("{slug}/{hub_id}")
}

/// Records `claim` when it is the first or better (earlier `claimed_at`) evidence for its pair,
/// appending a `slug-claim` change in the caller's transaction. Returns whether it improved.
///
/// # Errors
/// [`StoreError`].
pub async fn witness_claim(
    conn: &mut AnyConnection,
    claim: &Claim<'_>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into slug_claims (slug, hub_id, claimed_at, witnessed_at, envelope, source, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict (slug, hub_id) do update set claimed_at = $3, witnessed_at = $4, envelope = $5, \
         source = $6, updated_at = $7 where slug_claims.claimed_at > $3",
    )
    .bind(claim.slug)
    .bind(claim.hub_id)
    .bind(claim.claimed_at)
    .bind(claim.witnessed_at)
    .bind(claim.envelope)
    .bind(claim.source)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let improved = done.rows_affected() == 1;
    if improved {
        append_change(
            conn,
            ChangeKind::SlugClaim,
            &claim_key(claim.slug, claim.hub_id),
            now_ms,
        )
        .await?;
    }
    Ok(improved)
}

/// Drops every claim of `hub_id` (its tombstone releases them), with their changes.
///
/// # Errors
/// [`StoreError`].
pub async fn release_claims(conn: &mut AnyConnection, hub_id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "delete from changes where kind = 'slug-claim' and change_key in \
         (select slug || '/' || hub_id from slug_claims where hub_id = $1)",
    )
    .bind(hub_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("delete from slug_claims where hub_id = $1")
        .bind(hub_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A held claim (§5.4 rule 3): the hub is not tombstoned, its latest record carries the slug, and
/// that record is unexpired or expired after the hold cut-off.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldClaim {
    /// The slug.
    pub slug: String,
    /// The claiming hub.
    pub hub_id: String,
    /// Its best evidence.
    pub claimed_at: i64,
}

impl HeldClaim {
    /// The §5.4 rule 4 order: earlier `claimed_at` first, then the id that sorts first byte-wise.
    fn precedes(&self, other: &Self) -> bool {
        (self.claimed_at, self.hub_id.as_bytes()) < (other.claimed_at, other.hub_id.as_bytes())
    }
}

/// The winner among `claims` of one slug (§5.4 rule 4), ordered in Rust so both databases agree
/// byte for byte whatever their collation.
pub fn winner(claims: &[HeldClaim]) -> Option<&HeldClaim> {
    claims
        .iter()
        .reduce(|best, c| if c.precedes(best) { c } else { best })
}

impl super::Store {
    /// The held claims of each of `slugs` (at most 200 slugs), where records that expired before
    /// `hold_cutoff_ms` no longer hold.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_held_claims(
        &self,
        slugs: &[&str],
        hold_cutoff_ms: i64,
    ) -> Result<Vec<HeldClaim>, StoreError> {
        if slugs.is_empty() {
            return Ok(Vec::new());
        }
        let slugs = &slugs[..slugs.len().min(200)];
        let placeholders = (0..slugs.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "select c.slug, c.hub_id, c.claimed_at from slug_claims c join hubs h on h.id = c.hub_id \
             where h.slug = c.slug and h.state <> 'tombstoned' and h.expires_at > $1 \
             and c.slug in ({placeholders})"
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hold_cutoff_ms);
        for slug in slugs {
            query = query.bind(*slug);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(hub_id: &str, claimed_at: i64) -> HeldClaim {
        HeldClaim {
            slug: "go".to_owned(),
            hub_id: hub_id.to_owned(),
            claimed_at,
        }
    }

    #[test]
    fn winner_is_the_earliest_claim_then_the_bytewise_smallest_id() {
        let claims = [claim("b", 5), claim("a", 7), claim("c", 5), claim("B", 5)];

        assert_eq!(winner(&claims).unwrap().hub_id, "B");
        assert_eq!(winner(&claims[..2]).unwrap().hub_id, "b");
        assert_eq!(winner(&[]), None);
    }
}
