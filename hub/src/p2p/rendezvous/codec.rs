//! The `/rendezvous/1.0.0` wire format (libp2p rendezvous spec, `rendezvous.pb`): one
//! varint-length-prefixed protobuf `Message` per direction and stream, encoded and decoded by
//! `prost`. Only the server's half is here: requests are decoded, responses encoded. Unknown fields
//! are skipped; a message longer than [`MAX_MESSAGE`] or malformed protobuf is an `InvalidData`
//! error that ends the stream.

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::StreamProtocol;
use prost::Message as _;
use proto::MessageType;
use std::{fmt::Display, io};

/// Largest message read or written; a signed peer record with a few dozen addresses fits easily.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// The spec's `rendezvous.proto` (proto2), tags as published; `ResponseStatus` fields are plain
/// `int32` holding `OK` (0) or a [`Status`].
mod proto {
    /// `Message.MessageType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub(super) enum MessageType {
        Register = 0,
        RegisterResponse = 1,
        Unregister = 2,
        Discover = 3,
        DiscoverResponse = 4,
    }

    /// `Message`: a type and the one body it names.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Message {
        #[prost(enumeration = "MessageType", optional, tag = "1")]
        pub(super) r#type: Option<i32>,
        #[prost(message, optional, tag = "2")]
        pub(super) register: Option<Register>,
        #[prost(message, optional, tag = "3")]
        pub(super) register_response: Option<RegisterResponse>,
        #[prost(message, optional, tag = "4")]
        pub(super) unregister: Option<Unregister>,
        #[prost(message, optional, tag = "5")]
        pub(super) discover: Option<Discover>,
        #[prost(message, optional, tag = "6")]
        pub(super) discover_response: Option<DiscoverResponse>,
    }

    /// `Message.Register`, also one entry of a `DiscoverResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Register {
        #[prost(string, optional, tag = "1")]
        pub(super) ns: Option<String>,
        #[prost(bytes = "vec", optional, tag = "2")]
        pub(super) signed_peer_record: Option<Vec<u8>>,
        #[prost(uint64, optional, tag = "3")]
        pub(super) ttl: Option<u64>,
    }

    /// `Message.RegisterResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct RegisterResponse {
        #[prost(int32, optional, tag = "1")]
        pub(super) status: Option<i32>,
        #[prost(string, optional, tag = "2")]
        pub(super) status_text: Option<String>,
        #[prost(uint64, optional, tag = "3")]
        pub(super) ttl: Option<u64>,
    }

    /// `Message.Unregister`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Unregister {
        #[prost(string, optional, tag = "1")]
        pub(super) ns: Option<String>,
        #[prost(bytes = "vec", optional, tag = "2")]
        pub(super) id: Option<Vec<u8>>,
    }

    /// `Message.Discover`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Discover {
        #[prost(string, optional, tag = "1")]
        pub(super) ns: Option<String>,
        #[prost(uint64, optional, tag = "2")]
        pub(super) limit: Option<u64>,
        #[prost(bytes = "vec", optional, tag = "3")]
        pub(super) cookie: Option<Vec<u8>>,
    }

    /// `Message.DiscoverResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct DiscoverResponse {
        #[prost(message, repeated, tag = "1")]
        pub(super) registrations: Vec<Register>,
        #[prost(bytes = "vec", optional, tag = "2")]
        pub(super) cookie: Option<Vec<u8>>,
        #[prost(int32, optional, tag = "3")]
        pub(super) status: Option<i32>,
        #[prost(string, optional, tag = "4")]
        pub(super) status_text: Option<String>,
    }
}

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

fn invalid(what: impl Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("rendezvous: {what}"))
}

/// Decodes a request `Message`: its type must name a request whose body is present.
pub(crate) fn decode_request(buf: &[u8]) -> io::Result<Request> {
    let message = proto::Message::decode(buf).map_err(invalid)?;
    let no_body = || invalid("no request body");
    let no_namespace = || invalid("no namespace");
    match message.r#type.map(MessageType::try_from) {
        Some(Ok(MessageType::Register)) => {
            let body = message.register.ok_or_else(no_body)?;
            Ok(Request::Register {
                namespace: body.ns.ok_or_else(no_namespace)?,
                record: body
                    .signed_peer_record
                    .ok_or_else(|| invalid("no signed peer record"))?,
                ttl: body.ttl,
            })
        }
        Some(Ok(MessageType::Unregister)) => Ok(Request::Unregister {
            namespace: message
                .unregister
                .ok_or_else(no_body)?
                .ns
                .ok_or_else(no_namespace)?,
        }),
        Some(Ok(MessageType::Discover)) => {
            let body = message.discover.ok_or_else(no_body)?;
            Ok(Request::Discover {
                namespace: body.ns,
                limit: body.limit,
                cookie: body.cookie,
            })
        }
        _ => Err(invalid("not a request")),
    }
}

/// The `ResponseStatus` of `result`: `OK` (0) or the refusal's code.
fn status_code<T>(result: &Result<T, Status>) -> i32 {
    result.as_ref().map_or_else(|status| *status as i32, |_| 0)
}

fn response_message(response: Response) -> proto::Message {
    match response {
        Response::Register(result) => proto::Message {
            r#type: Some(MessageType::RegisterResponse.into()),
            register_response: Some(proto::RegisterResponse {
                status: Some(status_code(&result)),
                status_text: None,
                ttl: result.ok(),
            }),
            ..Default::default()
        },
        Response::Discover(result) => {
            let status = Some(status_code(&result));
            let (registrations, cookie) = result.map_or((Vec::new(), None), |(found, cookie)| {
                let found = found.into_iter().map(|registered| proto::Register {
                    ns: Some(registered.namespace),
                    signed_peer_record: Some(registered.record),
                    ttl: Some(registered.ttl),
                });
                (found.collect(), Some(cookie))
            });
            proto::Message {
                r#type: Some(MessageType::DiscoverResponse.into()),
                discover_response: Some(proto::DiscoverResponse {
                    registrations,
                    cookie,
                    status,
                    status_text: None,
                }),
                ..Default::default()
            }
        }
    }
}

/// Encodes a response `Message` (without the length prefix).
pub(crate) fn encode_response(response: Response) -> Vec<u8> {
    response_message(response).encode_to_vec()
}

/// The hub only answers: it never sends a request nor reads a response.
fn not_sent() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the hub sends no rendezvous requests",
    )
}

/// Reads one length-prefixed message, refusing a prefix above [`MAX_MESSAGE`] before allocating.
async fn read_message<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 10];
    let mut used = 0;
    while used == 0 || prefix[used - 1] & 0x80 != 0 {
        if used == prost::length_delimiter_len(MAX_MESSAGE) {
            return Err(invalid("message too long"));
        }
        io.read_exact(&mut prefix[used..=used]).await?;
        used += 1;
    }
    let len = prost::decode_length_delimiter(&prefix[..used]).map_err(invalid)?;
    if len > MAX_MESSAGE {
        return Err(invalid("message too long"));
    }
    let mut buf = vec![0; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
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
        let message = encode_response(response);
        let mut framed =
            Vec::with_capacity(prost::length_delimiter_len(message.len()) + message.len());
        prost::encode_length_delimiter(message.len(), &mut framed).map_err(invalid)?;
        framed.extend_from_slice(&message);
        io.write_all(&framed).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec as _;
    use proptest::prelude::*;

    const STATUSES: [Status; 6] = [
        Status::InvalidNamespace,
        Status::InvalidSignedPeerRecord,
        Status::InvalidTtl,
        Status::InvalidCookie,
        Status::NotAuthorized,
        Status::Unavailable,
    ];

    /// What a client sends for `request`, built from the spec's types.
    fn request_message(request: Request) -> proto::Message {
        match request {
            Request::Register {
                namespace,
                record,
                ttl,
            } => proto::Message {
                r#type: Some(MessageType::Register.into()),
                register: Some(proto::Register {
                    ns: Some(namespace),
                    signed_peer_record: Some(record),
                    ttl,
                }),
                ..Default::default()
            },
            Request::Unregister { namespace } => proto::Message {
                r#type: Some(MessageType::Unregister.into()),
                unregister: Some(proto::Unregister {
                    ns: Some(namespace),
                    id: None,
                }),
                ..Default::default()
            },
            Request::Discover {
                namespace,
                limit,
                cookie,
            } => proto::Message {
                r#type: Some(MessageType::Discover.into()),
                discover: Some(proto::Discover {
                    ns: namespace,
                    limit,
                    cookie,
                }),
                ..Default::default()
            },
        }
    }

    /// How a client reads a response, from the spec's types.
    fn client_reads(bytes: &[u8]) -> Response {
        let message = proto::Message::decode(bytes).unwrap();
        let status = |code: i32| STATUSES.into_iter().find(|s| *s as i32 == code).unwrap();
        match MessageType::try_from(message.r#type.unwrap()).unwrap() {
            MessageType::RegisterResponse => {
                let body = message.register_response.unwrap();
                Response::Register(match body.status.unwrap() {
                    0 => Ok(body.ttl.unwrap()),
                    code => Err(status(code)),
                })
            }
            MessageType::DiscoverResponse => {
                let body = message.discover_response.unwrap();
                Response::Discover(match body.status.unwrap() {
                    0 => Ok((
                        body.registrations
                            .into_iter()
                            .map(|r| Registered {
                                namespace: r.ns.unwrap(),
                                record: r.signed_peer_record.unwrap(),
                                ttl: r.ttl.unwrap(),
                            })
                            .collect(),
                        body.cookie.unwrap(),
                    )),
                    code => Err(status(code)),
                })
            }
            other => panic!("{other:?} is not a response"),
        }
    }

    fn register(ns: &str) -> Vec<u8> {
        request_message(Request::Register {
            namespace: ns.into(),
            record: b"envelope".to_vec(),
            ttl: Some(120),
        })
        .encode_to_vec()
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
    fn unknown_fields_are_skipped() {
        // Outer fields 7 (varint), 8 (fixed64), 9 (bytes), 10 (fixed32); inner field 4 (varint).
        let mut message = register("community");
        message.extend_from_slice(&[0x38, 0x01, 0x41, 0, 0, 0, 0, 0, 0, 0, 0]);
        message.extend_from_slice(&[0x4a, 0x01, 0xff, 0x55, 0, 0, 0, 0]);
        message.extend_from_slice(&[0x12, 0x02, 0x20, 0x05]);
        assert_eq!(
            decode_request(&message).unwrap(),
            decode_request(&register("community")).unwrap()
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
            &[0x08, 0x00, 0x12, 0x03, 0x0a, 0x01, 0xff][..],
            &[0x08, 0x07, 0x12, 0x00][..],
        ] {
            assert!(decode_request(bad).is_err(), "{bad:?} decoded");
        }
    }

    #[test]
    fn a_response_is_not_a_request() {
        let response = encode_response(Response::Register(Ok(60)));
        assert!(decode_request(&response).is_err());
    }

    #[tokio::test]
    async fn oversized_message_is_refused_before_it_is_read() {
        let mut framed = Vec::new();
        prost::encode_length_delimiter(MAX_MESSAGE + 1, &mut framed).unwrap();
        let error = read_message(&mut futures::io::Cursor::new(framed))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let endless = [0x80; 16];
        let error = read_message(&mut futures::io::Cursor::new(endless))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_framed_request_is_read_whole() {
        let framed = request_message(Request::Unregister {
            namespace: "community".into(),
        })
        .encode_length_delimited_to_vec();
        let request = Codec
            .read_request(
                &StreamProtocol::new("/rendezvous/1.0.0"),
                &mut futures::io::Cursor::new(framed),
            )
            .await
            .unwrap();
        assert_eq!(
            request,
            Request::Unregister {
                namespace: "community".into()
            }
        );
    }

    #[tokio::test]
    async fn a_written_response_is_one_framed_message() {
        let response = Response::Discover(Err(Status::InvalidCookie));
        let mut stream = futures::io::Cursor::new(Vec::new());
        Codec
            .write_response(
                &StreamProtocol::new("/rendezvous/1.0.0"),
                &mut stream,
                response.clone(),
            )
            .await
            .unwrap();
        let mut framed = &stream.into_inner()[..];
        let len = prost::decode_length_delimiter(&mut framed).unwrap();
        assert_eq!(len, framed.len());
        assert_eq!(client_reads(framed), response);
    }

    fn any_request() -> impl Strategy<Value = Request> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
        prop_oneof![
            (".{0,40}", bytes(), any::<Option<u64>>()).prop_map(|(namespace, record, ttl)| {
                Request::Register {
                    namespace,
                    record,
                    ttl,
                }
            }),
            ".{0,40}".prop_map(|namespace| Request::Unregister { namespace }),
            (
                proptest::option::of(".{0,40}"),
                any::<Option<u64>>(),
                proptest::option::of(bytes())
            )
                .prop_map(|(namespace, limit, cookie)| Request::Discover {
                    namespace,
                    limit,
                    cookie
                }),
        ]
    }

    fn any_response() -> impl Strategy<Value = Response> {
        let status = proptest::sample::select(STATUSES.to_vec());
        let registered = (
            ".{0,40}",
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<u64>(),
        )
            .prop_map(|(namespace, record, ttl)| Registered {
                namespace,
                record,
                ttl,
            });
        let found = (
            proptest::collection::vec(registered, 0..4),
            proptest::collection::vec(any::<u8>(), 0..32),
        );
        prop_oneof![
            prop_oneof![any::<u64>().prop_map(Ok), status.clone().prop_map(Err)]
                .prop_map(Response::Register),
            prop_oneof![found.prop_map(Ok), status.prop_map(Err)].prop_map(Response::Discover),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_request(&bytes);
            let _ = futures::executor::block_on(read_message(&mut futures::io::Cursor::new(bytes)));
        }

        #[test]
        fn a_client_request_decodes_to_itself(request in any_request()) {
            let bytes = request_message(request.clone()).encode_to_vec();
            prop_assert_eq!(decode_request(&bytes).unwrap(), request);
        }

        #[test]
        fn a_response_reads_back_on_the_client(response in any_response()) {
            prop_assert_eq!(client_reads(&encode_response(response.clone())), response);
        }
    }
}
