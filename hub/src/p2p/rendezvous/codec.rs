//! The `/rendezvous/1.0.0` wire format (libp2p rendezvous spec, `rendezvous.pb`): one
//! varint-length-prefixed protobuf `Message` per direction and stream. Only the server's half is
//! here: requests are decoded, responses encoded. Unknown fields are skipped; a message longer than
//! [`MAX_MESSAGE`] or malformed protobuf is an `InvalidData` error that ends the stream.

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use std::io;

/// Largest message read or written; a signed peer record with a few dozen addresses fits easily.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

const REGISTER: u64 = 0;
const REGISTER_RESPONSE: u64 = 1;
const UNREGISTER: u64 = 2;
const DISCOVER: u64 = 3;
const DISCOVER_RESPONSE: u64 = 4;

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// `REGISTER`: a signed peer record (envelope bytes) under `namespace`.
    Register {
        namespace: String,
        record: Vec<u8>,
        ttl: Option<u64>,
    },
    /// `UNREGISTER` (no response).
    Unregister { namespace: String },
    /// `DISCOVER`: registrations after `cookie`, at most `limit`.
    Discover {
        namespace: Option<String>,
        limit: Option<u64>,
        cookie: Option<Vec<u8>>,
    },
}

/// The spec's `ResponseStatus` values other than `OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// `E_INVALID_NAMESPACE` (100).
    InvalidNamespace = 100,
    /// `E_INVALID_SIGNED_PEER_RECORD` (101).
    InvalidSignedPeerRecord = 101,
    /// `E_INVALID_TTL` (102).
    InvalidTtl = 102,
    /// `E_INVALID_COOKIE` (103).
    InvalidCookie = 103,
    /// `E_NOT_AUTHORIZED` (200).
    NotAuthorized = 200,
    /// `E_UNAVAILABLE` (400).
    Unavailable = 400,
}

/// One registration in a `DISCOVER_RESPONSE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub(crate) namespace: String,
    pub(crate) record: Vec<u8>,
    pub(crate) ttl: u64,
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    /// `REGISTER_RESPONSE`: the granted TTL or a refusal.
    Register(Result<u64, Status>),
    /// `DISCOVER_RESPONSE`: registrations and the cookie to continue from, or a refusal.
    Discover(Result<(Vec<Registered>, Vec<u8>), Status>),
}

/// The request-response codec of the server side.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Codec;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("rendezvous: {what}"))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_uint(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, field << 3);
    put_varint(out, value);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn take_varint(buf: &mut &[u8]) -> io::Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf
            .split_first()
            .ok_or_else(|| invalid("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(invalid("overlong varint"))
}

/// A decoded protobuf field value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Calls `each(field, value)` for every field of `buf`, skipping fixed-width ones.
fn fields<'a>(mut buf: &'a [u8], mut each: impl FnMut(u64, Value<'a>)) -> io::Result<()> {
    while !buf.is_empty() {
        let key = take_varint(&mut buf)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => each(field, Value::Varint(take_varint(&mut buf)?)),
            2 => {
                let len = usize::try_from(take_varint(&mut buf)?)
                    .ok()
                    .filter(|len| *len <= buf.len())
                    .ok_or_else(|| invalid("truncated field"))?;
                let (bytes, rest) = buf.split_at(len);
                buf = rest;
                each(field, Value::Bytes(bytes));
            }
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                buf = buf.get(width..).ok_or_else(|| invalid("truncated field"))?;
            }
            _ => return Err(invalid("unsupported wire type")),
        }
    }
    Ok(())
}

fn text(bytes: &[u8]) -> io::Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid("namespace is not UTF-8"))
}

/// Decodes a request `Message`.
pub(crate) fn decode_request(buf: &[u8]) -> io::Result<Request> {
    let (mut kind, mut body) = (None, None);
    fields(buf, |field, value| match (field, value) {
        (1, Value::Varint(v)) => kind = Some(v),
        (2 | 4 | 5, Value::Bytes(b)) => body = Some((field, b)),
        _ => {}
    })?;
    let (field, body) = body.ok_or_else(|| invalid("no request body"))?;
    let (mut ns, mut record, mut ttl, mut limit, mut cookie) = (None, None, None, None, None);
    fields(body, |f, value| match (field, f, value) {
        (_, 1, Value::Bytes(b)) => ns = Some(b),
        (2, 2, Value::Bytes(b)) => record = Some(b.to_vec()),
        (2, 3, Value::Varint(v)) => ttl = Some(v),
        (5, 2, Value::Varint(v)) => limit = Some(v),
        (5, 3, Value::Bytes(b)) => cookie = Some(b.to_vec()),
        _ => {}
    })?;
    let ns = ns.map(text).transpose()?;
    match (kind, field) {
        (Some(REGISTER), 2) => Ok(Request::Register {
            namespace: ns.ok_or_else(|| invalid("no namespace"))?,
            record: record.ok_or_else(|| invalid("no signed peer record"))?,
            ttl,
        }),
        (Some(UNREGISTER), 4) => Ok(Request::Unregister {
            namespace: ns.ok_or_else(|| invalid("no namespace"))?,
        }),
        (Some(DISCOVER), 5) => Ok(Request::Discover {
            namespace: ns,
            limit,
            cookie,
        }),
        _ => Err(invalid("not a request")),
    }
}

/// Encodes a response `Message`.
pub(crate) fn encode_response(response: &Response) -> Vec<u8> {
    let mut body = Vec::new();
    let (kind, field) = match response {
        Response::Register(result) => {
            match result {
                Ok(ttl) => {
                    put_uint(&mut body, 1, 0);
                    put_uint(&mut body, 3, *ttl);
                }
                Err(status) => put_uint(&mut body, 1, *status as u64),
            }
            (REGISTER_RESPONSE, 3)
        }
        Response::Discover(result) => {
            match result {
                Ok((registrations, cookie)) => {
                    for registration in registrations {
                        let mut entry = Vec::new();
                        put_bytes(&mut entry, 1, registration.namespace.as_bytes());
                        put_bytes(&mut entry, 2, &registration.record);
                        put_uint(&mut entry, 3, registration.ttl);
                        put_bytes(&mut body, 1, &entry);
                    }
                    put_bytes(&mut body, 2, cookie);
                    put_uint(&mut body, 3, 0);
                }
                Err(status) => put_uint(&mut body, 3, *status as u64),
            }
            (DISCOVER_RESPONSE, 6)
        }
    };
    let mut message = Vec::new();
    put_uint(&mut message, 1, kind);
    put_bytes(&mut message, field, &body);
    message
}

/// The hub only answers: it never sends a request nor reads a response.
fn not_sent() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the hub sends no rendezvous requests",
    )
}

async fn read_message<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = 0u64;
    for shift in (0..35).step_by(7) {
        let mut byte = [0u8];
        io.read_exact(&mut byte).await?;
        len |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            let len = usize::try_from(len)
                .ok()
                .filter(|len| *len <= MAX_MESSAGE)
                .ok_or_else(|| invalid("message too long"))?;
            let mut buf = vec![0; len];
            io.read_exact(&mut buf).await?;
            return Ok(buf);
        }
    }
    Err(invalid("message too long"))
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode_request(&read_message(io).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        Err(not_sent())
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Err(not_sent())
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let message = encode_response(&response);
        let mut framed = Vec::with_capacity(message.len() + 5);
        put_varint(&mut framed, message.len() as u64);
        framed.extend_from_slice(&message);
        io.write_all(&framed).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(ns: &str) -> Vec<u8> {
        let mut body = Vec::new();
        put_bytes(&mut body, 1, ns.as_bytes());
        put_bytes(&mut body, 2, b"envelope");
        put_uint(&mut body, 3, 120);
        let mut message = Vec::new();
        put_uint(&mut message, 1, REGISTER);
        put_bytes(&mut message, 2, &body);
        message
    }

    #[test]
    fn register_request_decodes() {
        assert_eq!(
            decode_request(&register("community")).unwrap(),
            Request::Register {
                namespace: "community".into(),
                record: b"envelope".to_vec(),
                ttl: Some(120),
            }
        );
    }

    #[test]
    fn every_truncation_of_a_request_is_refused_or_decodes_without_panic() {
        let message = register("community");
        for len in 0..message.len() {
            let _ = decode_request(&message[..len]);
        }
        assert!(decode_request(&message[..message.len() - 1]).is_err());
    }

    #[test]
    fn hostile_bytes_are_refused() {
        for bad in [
            &[0xff; 11][..],
            &[0x08, 0x00][..],
            &[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f][..],
            &[0x0b][..],
            &[0x08, 0x00, 0x12, 0x02, 0x0a, 0xff][..],
        ] {
            assert!(decode_request(bad).is_err(), "{bad:?} decoded");
        }
    }

    #[test]
    fn a_response_is_not_a_request() {
        let response = encode_response(&Response::Register(Ok(60)));
        assert!(decode_request(&response).is_err());
    }

    #[tokio::test]
    async fn oversized_message_is_refused_before_it_is_read() {
        let mut framed = Vec::new();
        put_varint(&mut framed, MAX_MESSAGE as u64 + 1);
        let error = read_message(&mut futures::io::Cursor::new(framed))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
