//! Outgoing mail (hub.md §6.8): a [`Mailer`] over one of three transports — SMTP through lettre,
//! a log line, or `.eml` files — the outbox worker that delivers what the store queued, and the
//! texts of the mail ([`messages`]).

pub(crate) mod messages;
pub(crate) mod outbox;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::{EmailConfig, MailTransportKind};
use crate::store::DueEmail;

/// SMTP command timeout (hub.md §6.8 rule 4).
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where messages go.
#[derive(Debug, Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
    File(PathBuf),
}

/// Sends one message at a time. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// Why the mailer could not be set up; names the key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct MailerError {
    key: &'static str,
    reason: String,
}

impl Mailer {
    pub(crate) fn new(config: &EmailConfig, data_dir: &Path) -> Result<Self, MailerError> {
        let from = config.from.parse().map_err(|e| MailerError {
            key: "email.from",
            reason: format!("{e}"),
        })?;
        let transport = match config.transport {
            MailTransportKind::Log => {
                tracing::warn!(
                    "email.transport = \"log\": sign-in and confirmation links are written to this \
                     log, and whoever reads it can sign in as any member; configure `smtp` \
                     (email.transport, email.smtp_url) before inviting anyone"
                );
                Transport::Log
            }
            MailTransportKind::File => {
                let dir = shared::config::resolve(data_dir, &config.outbox_dir);
                std::fs::create_dir_all(&dir).map_err(|e| MailerError {
                    key: "email.outbox_dir",
                    reason: format!("{}: {e}", dir.display()),
                })?;
                Transport::File(dir)
            }
            MailTransportKind::Smtp => {
                let url = config
                    .smtp_url
                    .as_ref()
                    .map(|u| u.expose_secret().to_owned())
                    .unwrap_or_default();
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| MailerError {
                        key: "email.smtp_url",
                        reason: e.to_string(),
                    })?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Transport::Smtp(smtp)
            }
        };
        Ok(Self { transport, from })
    }

    /// Delivers `mail` once.
    pub(crate) async fn send(&self, mail: &DueEmail) -> Result<(), String> {
        let message = self.build(mail)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Log => {
                tracing::info!(to = %mail.to_addr, subject = %mail.subject, body = %mail.body, "email (log transport)");
                Ok(())
            }
            Transport::File(dir) => write_eml(dir, &mail.id, &message.formatted()).await,
        }
    }

    /// Plain-text UTF-8 with 8-bit transfer encoding, so links appear verbatim in the source
    /// (hub.md §6.8 rule 3), and the same Message-ID on every attempt.
    fn build(&self, mail: &DueEmail) -> Result<Message, String> {
        let to: Mailbox = mail
            .to_addr
            .parse()
            .map_err(|e| format!("recipient: {e}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(mail.message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(eight_bit_body(&mail.body)?)
            .map_err(|e| e.to_string())
    }
}

/// Longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// The body as 8-bit text with CRLF line ends. lettre's own 8-bit check refuses lines of 76 or more
/// characters (it would pick quoted-printable), but links must appear verbatim on one line
/// (hub.md §6.8 rule 3), so the body is checked against RFC 5322 here and handed over pre-encoded.
fn eight_bit_body(text: &str) -> Result<Body, String> {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if crlf.contains('\0')
        || crlf
            .split("\r\n")
            .any(|line| line.len() > MAX_LINE || line.contains('\r'))
    {
        return Err("body has a NUL, a bare CR or a line over 998 bytes".to_owned());
    }
    Ok(Body::dangerous_pre_encoded(
        crlf.into_bytes(),
        ContentTransferEncoding::EightBit,
    ))
}

/// Writes one message atomically: a temporary name first, then a rename.
async fn write_eml(dir: &Path, id: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    let path = dir.join(format!("{id}.eml"));
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| e.to_string())?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> DueEmail {
        DueEmail {
            id: "0190b6a8-0000-7000-8000-000000000001".to_owned(),
            message_id: "<0190b6a8@hub.example.org>".to_owned(),
            purpose: "join".to_owned(),
            to_addr: "ann@example.org".to_owned(),
            subject: "Confirm your email for Go Developers".to_owned(),
            body:
                "https://hub.example.org/verify?token=abc_DEF-1234567890abcdefghijklmnopqrstuvwxyz01\nExpires 2026-12-01 12:00 UTC\n"
                    .to_owned(),
            attempts: 0,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn overlong_line_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmailConfig {
            transport: MailTransportKind::File,
            ..EmailConfig::default()
        };
        let mailer = Mailer::new(&config, dir.path()).unwrap();
        let mut long = mail();
        long.body = "x".repeat(999);

        assert!(mailer.send(&long).await.is_err());
    }

    #[tokio::test]
    async fn file_transport_writes_one_eml_with_the_link_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let config = EmailConfig {
            transport: MailTransportKind::File,
            ..EmailConfig::default()
        };
        let mailer = Mailer::new(&config, dir.path()).unwrap();

        mailer.send(&mail()).await.unwrap();

        let eml =
            std::fs::read_to_string(dir.path().join("outbox").join(format!("{}.eml", mail().id)))
                .unwrap();
        assert!(
            eml.contains("https://hub.example.org/verify?token=abc_DEF-1234567890abcdefghijklmnopqrstuvwxyz01\r\n"),
            "{eml}"
        );
        assert!(eml.contains("Content-Transfer-Encoding: 8bit"), "{eml}");
        assert!(
            eml.contains("Message-ID: <0190b6a8@hub.example.org>"),
            "{eml}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count(),
            1,
            "no temporary file is left"
        );
    }

    #[tokio::test]
    async fn header_injection_in_the_recipient_is_refused() {
        let mailer = Mailer::new(&EmailConfig::default(), Path::new(".")).unwrap();
        let mut evil = mail();
        evil.to_addr = "ann@example.org\r\nBcc: everyone@example.org".to_owned();

        assert!(mailer.send(&evil).await.is_err());
    }
}
