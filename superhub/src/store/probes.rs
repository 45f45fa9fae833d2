//! `probes` and the probe columns of `hubs` (superhub.md §4): the due queue (the database is the
//! queue, §4.1 rule 3), claiming a due hub, and recording a result with its state change and
//! measured values (§4.2, §4.4) in one transaction that never overwrites a newer record.

use sqlx::AnyConnection;

use super::{HubState, Store, StoreError};

/// One probe of a hub's history (§4.2, §4.3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ProbeRow {
    /// When it ran (ms).
    pub at: i64,
    /// `http` or `p2p`.
    pub kind: String,
    /// Its outcome.
    pub outcome: String,
    /// Its RTT, when it passed.
    pub rtt_ms: Option<i64>,
}

/// A hub is never probed twice within this (§4.1 rule 1).
const MIN_PROBE_GAP_MS: i64 = 60_000;
const UPTIME_WINDOW_MS: i64 = 30 * 86_400_000;
const RTT_WINDOW_MS: i64 = 86_400_000;
/// `uptime_30d` stays null below this many HTTP probes (§4.4).
const UPTIME_MIN_PROBES: i64 = 10;

/// The rows the scheduler may probe now (`$1` = now): a probed state, due, unexpired, and not
/// probed within [`MIN_PROBE_GAP_MS`].
macro_rules! due {
    () => {
        "state in ('pending_probe', 'listed', 'unreachable', 'probe_failed') \
         and next_probe_at is not null and next_probe_at <= $1 and expires_at > $1 \
         and (last_probe_at is null or last_probe_at <= $1 - 60000)"
    };
}

/// A hub to probe, with the addresses it was claimed with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueProbe {
    /// The hub id.
    pub id: String,
    /// The record's `http_url`.
    pub http_url: String,
    /// The record's `multiaddrs`, as the JSON text stored in `hubs.multiaddrs`.
    pub multiaddrs: String,
    /// `next_probe_at` before the claim.
    next_probe_at: i64,
}

/// One probe's result of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeResult<'a> {
    /// The `outcome` word.
    pub outcome: &'a str,
    /// Its RTT, for passes.
    pub rtt_ms: Option<i64>,
}

impl ProbeResult<'_> {
    fn ok(&self) -> bool {
        self.outcome == "ok"
    }
}

/// Everything a finished probe of a claimed hub reports.
#[derive(Debug, Clone)]
pub struct ProbeReport<'a> {
    /// The probed hub, with the addresses it was probed at.
    pub hub: &'a DueProbe,
    /// When the probe finished.
    pub at: i64,
    /// The HTTP probe (decides the state).
    pub http: ProbeResult<'a>,
    /// The libp2p probe, when it ran.
    pub p2p: Option<ProbeResult<'a>>,
}

/// A state change decided from the current state, failures in a row and the HTTP result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub state: HubState,
    /// Failures in a row after this probe.
    pub consecutive_failures: i64,
    /// When the hub is due next.
    pub next_probe_at: i64,
}

/// What [`Store::record_probe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored, with the state now.
    Applied(HubState),
    /// The hub changed address, expired or was tombstoned while probing; nothing was stored.
    Superseded,
}

/// A hub's probe state and measured values (§4.4), as detail pages show them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProbeStatus {
    /// `hubs.state`.
    pub state: String,
    /// Failed HTTP probes in a row.
    pub consecutive_failures: i64,
    /// When the hub was first listed (`listed_since`).
    pub first_listed_at: Option<i64>,
    /// When the last probe finished.
    pub last_probe_at: Option<i64>,
    /// When the hub is due next.
    pub next_probe_at: Option<i64>,
    /// The `http_url` of the last passed probe.
    pub probed_http_url: Option<String>,
    /// The `multiaddrs` (JSON text) of the last passed probe.
    pub probed_multiaddrs: Option<String>,
    /// ok ÷ all HTTP probes of 30 days; null below 10 probes.
    pub uptime_30d: Option<f64>,
    /// Median RTT of the ok HTTP probes of 24 h.
    pub rtt_ms: Option<i64>,
    /// When a libp2p probe last passed.
    pub p2p_ok_at: Option<i64>,
    /// The ping RTT of the last libp2p probe; null when it failed (`p2p_reachable` = not null).
    pub p2p_rtt_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Current {
    state: String,
    consecutive_failures: i64,
}

impl Store {
    /// Claims up to `limit` due hubs, skipping `busy` ids, in the order of §4.1 rule 1: direct
    /// `pending_probe`, federated `pending_probe`, then the oldest due. A claim moves
    /// `next_probe_at` 60 s ahead, so another replica (or a crash) cannot probe the hub again
    /// sooner; recording the result sets the real next due time.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is claimed.
    pub async fn claim_due_probes(
        &self,
        now_ms: i64,
        limit: usize,
        busy: &[String],
    ) -> Result<Vec<DueProbe>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let fetch = i64::try_from(limit + busy.len()).unwrap_or(i64::MAX);
        let due: Vec<DueProbe> = sqlx::query_as(concat!(
            "select id, http_url, multiaddrs, next_probe_at from hubs where ",
            due!(),
            " order by case when state = 'pending_probe' and received_from = 'direct' then 0 \
             when state = 'pending_probe' then 1 else 2 end, next_probe_at, id limit $2"
        ))
        .bind(now_ms)
        .bind(fetch)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::new();
        for hub in due
            .into_iter()
            .filter(|h| !busy.contains(&h.id))
            .take(limit)
        {
            let done = sqlx::query(
                "update hubs set next_probe_at = $1 where id = $2 and next_probe_at = $3",
            )
            .bind(now_ms + MIN_PROBE_GAP_MS)
            .bind(&hub.id)
            .bind(hub.next_probe_at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                claimed.push(hub);
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Hubs due now and not claimed (`superhub_probe_due`).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn count_due_probes(&self, now_ms: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(concat!(
            "select cast(count(*) as bigint) from hubs where ",
            due!()
        ))
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?)
    }

    /// Records a finished probe: the `probes` rows, the state `decide` picks from the current
    /// state and failures in a row, `last_probe_at`, the probed addresses and `first_listed_at`
    /// on a pass, and the measured values (§4.4), in one transaction. Applies only while the
    /// hub still has the probed `http_url` and `multiaddrs` and a probed state.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is stored.
    pub async fn record_probe(
        &self,
        report: &ProbeReport<'_>,
        decide: impl FnOnce(HubState, i64) -> Transition,
    ) -> Result<Recorded, StoreError> {
        let hub = report.hub;
        let mut tx = self.begin_write().await?;
        let current: Option<Current> = sqlx::query_as(
            "select state, consecutive_failures from hubs where id = $1 and http_url = $2 \
             and multiaddrs = $3 \
             and state in ('pending_probe', 'listed', 'unreachable', 'probe_failed')",
        )
        .bind(&hub.id)
        .bind(&hub.http_url)
        .bind(&hub.multiaddrs)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            return Ok(Recorded::Superseded);
        };
        let transition = decide(
            HubState::parse(&current.state)?,
            current.consecutive_failures,
        );
        insert_probe(&mut tx, &hub.id, report.at, "http", &report.http).await?;
        if let Some(p2p) = &report.p2p {
            insert_probe(&mut tx, &hub.id, report.at, "p2p", p2p).await?;
        }
        let (uptime, rtt) = measure(&mut tx, &hub.id, report.at).await?;
        let ok = report.http.ok();
        let p2p_ran = report.p2p.is_some();
        let p2p_ok = report.p2p.as_ref().is_some_and(ProbeResult::ok);
        let done = sqlx::query(
            "update hubs set state = $4, consecutive_failures = $5, next_probe_at = $6, \
             last_probe_at = $7, uptime_30d = case when $16 = 1 then $8 else null end, rtt_ms = $9, \
             first_listed_at = case when $10 = 1 then coalesce(first_listed_at, $7) else first_listed_at end, \
             probed_http_url = case when $10 = 1 then http_url else probed_http_url end, \
             probed_multiaddrs = case when $10 = 1 then multiaddrs else probed_multiaddrs end, \
             p2p_ok_at = case when $11 = 1 then $7 else p2p_ok_at end, \
             p2p_rtt_ms = case when $12 = 1 then $13 else p2p_rtt_ms end \
             where id = $1 and http_url = $2 and multiaddrs = $3 and state = $14 \
             and consecutive_failures = $15",
        )
        .bind(&hub.id)
        .bind(&hub.http_url)
        .bind(&hub.multiaddrs)
        .bind(transition.state.as_str())
        .bind(transition.consecutive_failures)
        .bind(transition.next_probe_at)
        .bind(report.at)
        // Never a null float: sqlx's Any driver binds it as float4 on Postgres, and the cached
        // statement then refuses the float8 of the next call.
        .bind(uptime.unwrap_or(0.0))
        .bind(rtt)
        .bind(i64::from(ok))
        .bind(i64::from(p2p_ok))
        .bind(i64::from(p2p_ran))
        .bind(report.p2p.and_then(|p| p.ok().then_some(p.rtt_ms).flatten()))
        .bind(&current.state)
        .bind(current.consecutive_failures)
        .bind(i64::from(uptime.is_some()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(Recorded::Superseded);
        }
        tx.commit().await?;
        Ok(Recorded::Applied(transition.state))
    }

    /// The probe state and measured values of hub `id`, if stored.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn probe_status(&self, id: &str) -> Result<Option<ProbeStatus>, StoreError> {
        Ok(sqlx::query_as(
            "select state, consecutive_failures, first_listed_at, last_probe_at, next_probe_at, \
             probed_http_url, probed_multiaddrs, uptime_30d, rtt_ms, p2p_ok_at, p2p_rtt_ms \
             from hubs where id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The newest `limit` probe rows of hub `id`, newest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn probe_history(&self, id: &str, limit: u32) -> Result<Vec<ProbeRow>, StoreError> {
        Ok(sqlx::query_as(
            "select at, kind, outcome, rtt_ms from probes where hub_id = $1 \
             order by at desc, id desc limit $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?)
    }
}

async fn insert_probe(
    conn: &mut AnyConnection,
    hub_id: &str,
    at: i64,
    kind: &str,
    row: &ProbeResult<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into probes (id, hub_id, at, kind, outcome, rtt_ms) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(hub_id)
    .bind(at)
    .bind(kind)
    .bind(row.outcome)
    .bind(row.rtt_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// `uptime_30d` (ok ÷ all HTTP probes of 30 days, null below 10) and `rtt_ms` (median of the ok
/// HTTP probes of 24 h, the mean of the middle two for an even count).
async fn measure(
    conn: &mut AnyConnection,
    hub_id: &str,
    now_ms: i64,
) -> Result<(Option<f64>, Option<i64>), StoreError> {
    let (all, ok): (i64, i64) = sqlx::query_as(
        "select cast(count(*) as bigint), \
         cast(coalesce(sum(case when outcome = 'ok' then 1 else 0 end), 0) as bigint) \
         from probes where hub_id = $1 and kind = 'http' and at > $2",
    )
    .bind(hub_id)
    .bind(now_ms - UPTIME_WINDOW_MS)
    .fetch_one(&mut *conn)
    .await?;
    let uptime = (all >= UPTIME_MIN_PROBES).then(|| ok as f64 / all as f64);
    let since = now_ms - RTT_WINDOW_MS;
    let count: i64 = sqlx::query_scalar(
        "select cast(count(*) as bigint) from probes where hub_id = $1 and kind = 'http' \
         and outcome = 'ok' and at > $2 and rtt_ms is not null",
    )
    .bind(hub_id)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    if count == 0 {
        return Ok((uptime, None));
    }
    let middle: Vec<i64> = sqlx::query_scalar(
        "select rtt_ms from probes where hub_id = $1 and kind = 'http' and outcome = 'ok' \
         and at > $2 and rtt_ms is not null order by rtt_ms limit $3 offset $4",
    )
    .bind(hub_id)
    .bind(since)
    .bind(if count % 2 == 0 { 2_i64 } else { 1 })
    .bind((count - 1) / 2)
    .fetch_all(&mut *conn)
    .await?;
    let rtt = match middle[..] {
        [one] => Some(one),
        [low, high] => Some(low + (high - low) / 2),
        _ => None,
    };
    Ok((uptime, rtt))
}
