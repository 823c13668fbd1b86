//! Transfer layer, h3, client: one request's response on its stream, read, checked and saved
//! through a part file as the HTTP/1.x client saves. Must not import the server, capture or
//! report code.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::{Buf, Bytes};

use crate::timeline::Ts;
use crate::transfer::TransferError;
use crate::transfer::client::part_file::PartFile;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog, Side};
use crate::transfer::run::{FileResult, RequestTiming};

/// One file to fetch, owned so its stream's task can outlive the caller's borrow.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    /// Index into the plan's paths.
    pub(super) index: usize,
    pub(super) path: String,
    /// The name it is saved under.
    pub(super) name: String,
    /// Its expected SHA-256, when known.
    pub(super) expected: Option<String>,
    pub(super) dir: PathBuf,
    pub(super) max_size: Option<u64>,
}

/// A request sent, its response still to read.
pub(super) struct Receiving {
    pub(super) stream: h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    pub(super) want: Wanted,
    /// When the request had been written whole.
    pub(super) sent: Ts,
    pub(super) log: Option<EventLog>,
    pub(super) local: SocketAddr,
    pub(super) peer: SocketAddr,
}

impl Receiving {
    /// Reads the response and saves its body; returns the timings and the file (seconds still 0).
    pub(super) async fn run(self) -> Result<(RequestTiming, FileResult), TransferError> {
        let Receiving {
            mut stream,
            want,
            sent,
            log,
            local,
            peer,
        } = self;
        let events = ConnectionEvents::new(log.as_ref(), Side::Client, local, peer);
        let network = |error: h3::error::StreamError| TransferError::Network {
            addr: peer,
            source: io::Error::other(error),
        };
        let response = stream.recv_response().await.map_err(network)?;
        // The HEADERS frame is the first the stream carries.
        let first_byte = Ts::now();
        let status = response.status().as_u16();
        events.at(first_byte, EventKind::ResponseStart { status });
        if !response.status().is_success() {
            return Err(TransferError::Status {
                code: status,
                path: want.path,
                said: None,
            });
        }
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let too_large = |limit: u64| TransferError::TooLarge {
            path: want.path.clone(),
            limit,
        };
        if let (Some(length), Some(max)) = (length, want.max_size)
            && length > max
        {
            return Err(too_large(max));
        }
        let mut part = PartFile::create(&want.dir, &want.name)?;
        let mut bytes = 0u64;
        let mut last_byte = first_byte;
        while let Some(mut data) = stream.recv_data().await.map_err(network)? {
            last_byte = Ts::now();
            while data.has_remaining() {
                let chunk = data.chunk();
                bytes += chunk.len() as u64;
                if let Some(max) = want.max_size.filter(|&max| bytes > max) {
                    return Err(too_large(max));
                }
                part.write(chunk)?;
                let read = chunk.len();
                data.advance(read);
            }
        }
        if let Some(expected) = length.filter(|&expected| bytes < expected) {
            return Err(TransferError::Truncated {
                path: want.path,
                expected,
                got: bytes,
            });
        }
        events.at(last_byte, EventKind::ResponseEnd { bytes });
        let file = part.keep(&want.name, want.expected.as_deref(), status, bytes)?;
        Ok((
            RequestTiming {
                file: want.index,
                sent,
                first_byte,
                last_byte,
            },
            file,
        ))
    }
}
