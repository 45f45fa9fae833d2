//! `tracing` set-up shared by every binary: an `EnvFilter` (`RUST_LOG` wins over the configured
//! level) and a text or JSON formatter on stderr. Text carries colour codes only when stderr is a
//! terminal, so container and file logs stay plain.

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The `[log]` section of every server config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Default filter, e.g. `info` or `hub=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitTelemetryError {
    /// `log.level` (or `RUST_LOG`) is not a valid filter.
    #[error("log.level: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
}

/// Installs the global subscriber. A second call is a no-op (tests call it once per binary).
///
/// # Errors
/// [`InitTelemetryError::Filter`] when the level is not a valid filter directive.
pub fn init(config: &LogConfig) -> Result<(), InitTelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env)?,
        _ => EnvFilter::try_new(&config.level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // try_init fails only when a subscriber is already installed, which is fine.
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
