//! Byte counting for `hub_relay_bytes_total{tier}` (hub.md §15): a stream-muxer wrapper whose
//! substreams add every byte read or written to the counter of the connection's tier. Both legs
//! of a circuit are connections of the hub, so relayed bytes count twice, as the spec says.

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use prometheus_client::metrics::counter::Counter;

/// A muxer whose substreams count their bytes into one counter.
#[derive(Debug)]
pub(crate) struct Counting<M> {
    inner: M,
    counter: Counter,
}

impl<M> Counting<M> {
    pub(crate) fn new(inner: M, counter: Counter) -> Self {
        Self { inner, counter }
    }
}

impl<M> StreamMuxer for Counting<M>
where
    M: StreamMuxer + Unpin,
    M::Substream: Unpin,
{
    type Substream = CountingStream<M::Substream>;
    type Error = M::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        let counter = &this.counter;
        Pin::new(&mut this.inner)
            .poll_inbound(cx)
            .map_ok(|inner| CountingStream {
                inner,
                counter: counter.clone(),
            })
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        let counter = &this.counter;
        Pin::new(&mut this.inner)
            .poll_outbound(cx)
            .map_ok(|inner| CountingStream {
                inner,
                counter: counter.clone(),
            })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

/// A substream that counts what passes through it.
#[derive(Debug)]
pub(crate) struct CountingStream<S> {
    inner: S,
    counter: Counter,
}

impl<S> CountingStream<S> {
    fn count(&self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &result {
            self.counter.inc_by(*n as u64);
        }
        result
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.count(result)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read_vectored(cx, bufs);
        this.count(result)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.count(result)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn stream_counts_bytes_read_and_written() {
        let counter = Counter::default();
        let mut counted = CountingStream {
            inner: futures::io::Cursor::new(Vec::new()),
            counter: counter.clone(),
        };

        counted.write_all(b"hello").await.unwrap();
        counted.inner.set_position(0);
        let mut back = [0u8; 5];
        counted.read_exact(&mut back).await.unwrap();

        assert_eq!(&back, b"hello");
        assert_eq!(counter.get(), 10);
    }
}
