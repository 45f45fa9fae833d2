//! A real SMTP listener on a loopback port that accepts every message and keeps it for
//! assertions. It speaks enough of RFC 5321 for lettre and other clients: EHLO/HELO, AUTH
//! (accepted), MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Longest command or data line accepted (RFC 5321 allows 1000 octets; we are lenient).
const MAX_LINE: usize = 64 * 1024;
/// Largest message kept.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message (headers and body) after dot-unstuffing, with CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header named `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            match (&mut value, line.starts_with([' ', '\t'])) {
                (Some(v), true) => v.push_str(line),
                (Some(_), false) => break,
                (None, _) => {
                    if let Some((key, rest)) = line.split_once(':')
                        && key.eq_ignore_ascii_case(name)
                    {
                        value = Some(rest.trim_start().to_owned());
                    }
                }
            }
        }
        value
    }

    /// The body after the blank line that ends the headers.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }
}

/// The token of the first `/verify?token=` link in `text` (a mail body or an `.eml` file).
///
/// # Panics
/// When `text` has no such link.
pub fn verify_token(text: &str) -> String {
    const LINK: &str = "/verify?token=";
    let start = text.find(LINK).expect("a verify link") + LINK.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[derive(Debug, Default)]
struct Inbox {
    mail: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

/// The SMTP sink; stops listening when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    accept: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl SmtpSink {
    /// Listens on 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("valid")).await
    }

    /// Listens on `addr` (e.g. a port a server was told about while the sink was still down).
    ///
    /// # Panics
    /// When the address cannot be bound.
    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind SMTP sink");
        let addr = listener.local_addr().expect("SMTP sink address");
        let inbox = Arc::new(Inbox::default());
        let accept = tokio::spawn({
            let inbox = inbox.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, inbox.clone()));
                }
            }
        });
        Self {
            addr,
            inbox,
            accept,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:<port>` (plain, no TLS).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inbox.mail.lock().expect("inbox lock").clone()
    }

    /// Waits until more than `seen` messages have arrived and returns those after the first
    /// `seen`: a reader that keeps its own cursor (a benchmark routing thousands of messages)
    /// copies each message once instead of the whole inbox on every arrival.
    pub async fn wait_for_more(&self, seen: usize) -> Vec<ReceivedMail> {
        loop {
            let arrived = self.inbox.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            {
                let mail = self.inbox.mail.lock().expect("inbox lock");
                if mail.len() > seen {
                    return mail[seen..].to_vec();
                }
            }
            arrived.await;
        }
    }

    /// Waits for a message matching `pred`.
    ///
    /// # Panics
    /// When none arrives within `deadline`.
    pub async fn wait_for(
        &self,
        deadline: Duration,
        pred: impl Fn(&ReceivedMail) -> bool,
    ) -> ReceivedMail {
        let wait = async {
            loop {
                let arrived = self.inbox.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some(found) = self.messages().into_iter().find(|m| pred(m)) {
                    return found;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(deadline, wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no matching mail within {deadline:?}; got {:?}",
                    self.messages()
                )
            })
    }
}

async fn session(stream: TcpStream, inbox: Arc<Inbox>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut from = String::new();
    let mut to = Vec::new();
    if write
        .write_all(b"220 testkit ESMTP sink\r\n")
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some(line) = read_line(&mut lines).await else {
            return;
        };
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-testkit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n"
        } else if upper.starts_with("HELO") {
            b"250 testkit\r\n"
        } else if upper.starts_with("AUTH") {
            b"235 2.7.0 accepted\r\n"
        } else if let Some(rest) = upper.strip_prefix("MAIL FROM:") {
            from = address(&line[line.len() - rest.len()..]);
            to.clear();
            b"250 2.1.0 ok\r\n"
        } else if let Some(rest) = upper.strip_prefix("RCPT TO:") {
            to.push(address(&line[line.len() - rest.len()..]));
            b"250 2.1.5 ok\r\n"
        } else if upper == "DATA" {
            if to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                if write
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                inbox.mail.lock().expect("inbox lock").push(ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                inbox.arrived.notify_waiters();
                b"250 2.0.0 queued\r\n"
            }
        } else if upper == "RSET" {
            to.clear();
            b"250 2.0.0 ok\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 ok\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            b"502 5.5.2 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// One line without its CRLF; `None` at EOF or for an over-long line.
async fn read_line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await
        .ok()?;
    if n == 0 || !buf.ends_with(b"\n") {
        return None;
    }
    let text = String::from_utf8_lossy(&buf);
    Some(text.trim_end_matches(['\r', '\n']).to_owned())
}

async fn read_data(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = String::new();
    loop {
        let line = read_line(reader).await?;
        if line == "." {
            return Some(data);
        }
        // RFC 5321 §4.5.2: a leading dot was doubled by the sender.
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
        if data.len() > MAX_MESSAGE {
            return None;
        }
    }
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .map_or(arg, |(inner, _)| inner);
    inner.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::message::Mailbox;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    #[tokio::test]
    async fn sink_captures_mail_when_lettre_sends_over_smtp() {
        let sink = SmtpSink::start().await;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.addr().port())
            .build();
        let message = Message::builder()
            .from("Hub <noreply@example.org>".parse::<Mailbox>().unwrap())
            .to("ann@example.org".parse::<Mailbox>().unwrap())
            .subject("Confirm your email")
            .body(".leading dot\nhttps://hub.example.org/verify?token=abc\n".to_owned())
            .unwrap();

        transport.send(message).await.unwrap();
        let mail = sink
            .wait_for(Duration::from_secs(5), |m| m.to == ["ann@example.org"])
            .await;

        assert_eq!(mail.from, "noreply@example.org");
        assert_eq!(
            mail.header("subject").as_deref(),
            Some("Confirm your email")
        );
        assert!(mail.body().contains(".leading dot\r\n"), "{}", mail.body());
        assert!(mail.body().contains("verify?token=abc"));
    }

    #[test]
    fn address_strips_angle_brackets_and_parameters() {
        assert_eq!(address(" <a@b.c> SIZE=100"), "a@b.c");
        assert_eq!(address("a@b.c"), "a@b.c");
    }
}
