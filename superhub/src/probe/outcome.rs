//! The outcome words of the HTTP and libp2p probes (superhub.md §4.2, §4.3), as stored in
//! `probes.outcome` and exported in `superhub_probes_total{kind,outcome}`.

/// How an HTTP probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpOutcome {
    /// 200, a JSON object, and its `id` is the record id: the hub may be listed.
    Ok,
    /// The host did not resolve.
    DnsError,
    /// A resolved address is not public and `probe.allow_private_addresses` is off.
    BlockedAddress,
    /// The TCP connection failed.
    ConnectError,
    /// Connect or whole-request timeout.
    Timeout,
    /// The TLS handshake failed.
    TlsError,
    /// A status other than 200 (and not a redirect).
    HttpStatus,
    /// A 3xx answer; redirects are never followed.
    Redirect,
    /// The body exceeded `probe.max_body_bytes`.
    TooLarge,
    /// The body is not a JSON object.
    InvalidJson,
    /// The document's `id` is not the record id.
    IdMismatch,
}

impl HttpOutcome {
    /// Every outcome, in the order of §4.2.
    pub const ALL: [Self; 11] = [
        Self::Ok,
        Self::DnsError,
        Self::BlockedAddress,
        Self::ConnectError,
        Self::Timeout,
        Self::TlsError,
        Self::HttpStatus,
        Self::Redirect,
        Self::TooLarge,
        Self::InvalidJson,
        Self::IdMismatch,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::DnsError => "dns_error",
            Self::BlockedAddress => "blocked_address",
            Self::ConnectError => "connect_error",
            Self::Timeout => "timeout",
            Self::TlsError => "tls_error",
            Self::HttpStatus => "http_status",
            Self::Redirect => "redirect",
            Self::TooLarge => "too_large",
            Self::InvalidJson => "invalid_json",
            Self::IdMismatch => "id_mismatch",
        }
    }
}

/// How a libp2p probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum P2pOutcome {
    /// Noise authenticated the expected peer, identify named a `goop-hub/` agent, a ping answered.
    Ok,
    /// No address could be dialled (refused, unreachable, filtered, or none usable).
    DialFailed,
    /// The remote authenticated as another peer.
    WrongPeer,
    /// identify arrived with an agent that is not `goop-hub/…`.
    WrongAgent,
    /// Nothing conclusive within `probe.p2p_timeout_secs`.
    Timeout,
}

impl P2pOutcome {
    /// Every outcome, in the order of §4.3.
    pub const ALL: [Self; 5] = [
        Self::Ok,
        Self::DialFailed,
        Self::WrongPeer,
        Self::WrongAgent,
        Self::Timeout,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::DialFailed => "dial_failed",
            Self::WrongPeer => "wrong_peer",
            Self::WrongAgent => "wrong_agent",
            Self::Timeout => "timeout",
        }
    }
}

/// The result of one probe of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured<O> {
    /// How it ended.
    pub outcome: O,
    /// HTTP: send → whole body read; libp2p: the ping RTT. Only for `ok`.
    pub rtt_ms: Option<i64>,
}

impl<O> Measured<O> {
    /// A failure without a time.
    pub fn failed(outcome: O) -> Self {
        Self {
            outcome,
            rtt_ms: None,
        }
    }
}
