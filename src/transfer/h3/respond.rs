//! Transfer layer, h3, server: one request on its stream, answered from the served root with the
//! same confinement and content types as the HTTP/1.x server. Must not import the client, capture
//! or report code.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use h3::error::StreamError;
use h3::server::RequestResolver;
use http::{Method, Response, StatusCode, header};

use crate::transfer::events::{ConnectionEvents, EventKind};
use crate::transfer::server::{content_type, resolve};

/// Bytes read from the file and handed to the stream at a time.
const CHUNK: usize = 256 * 1024;

/// A response stream of the server's.
type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Reads the request on a stream just accepted and answers it: the file, or why not.
pub(super) async fn respond(
    resolver: RequestResolver<h3_quinn::Connection, Bytes>,
    root: &Path,
    events: &ConnectionEvents<'_>,
) -> Result<(), StreamError> {
    let (request, mut stream) = resolver.resolve_request().await?;
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    events.now(EventKind::Request {
        path: target.clone(),
    });
    let head_only = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head_only {
        return send_error(
            &mut stream,
            StatusCode::METHOD_NOT_ALLOWED,
            head_only,
            events,
        )
        .await;
    }
    let opened = resolve(root, &target)
        .map_err(|refusal| refusal.status().0)
        .and_then(|path| {
            let file = File::open(&path).map_err(|_| StatusCode::NOT_FOUND.as_u16())?;
            let length = file
                .metadata()
                .map_err(|_| StatusCode::NOT_FOUND.as_u16())?
                .len();
            Ok((path, file, length))
        });
    let (path, mut file, length) = match opened {
        Ok(opened) => opened,
        Err(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::NOT_FOUND);
            return send_error(&mut stream, status, head_only, events).await;
        }
    };
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(&path))
        .header(header::CONTENT_LENGTH, length)
        .body(())
        .expect("a status and two valid headers make a response");
    stream.send_response(response).await?;
    events.now(EventKind::ResponseStart { status: 200 });
    let mut sent = 0u64;
    if !head_only {
        let mut buf = vec![0u8; CHUNK];
        loop {
            // A read error past the head can only cut the body short, which the client sees.
            let read = match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            stream
                .send_data(Bytes::copy_from_slice(&buf[..read]))
                .await?;
            sent += read as u64;
        }
    }
    stream.finish().await?;
    events.now(EventKind::ResponseEnd { bytes: sent });
    Ok(())
}

/// An error response with its reason as a short text body, as the HTTP/1.x server sends.
async fn send_error(
    stream: &mut Stream,
    status: StatusCode,
    head_only: bool,
    events: &ConnectionEvents<'_>,
) -> Result<(), StreamError> {
    let body = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONTENT_LENGTH, body.len());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response = response.header(header::ALLOW, "GET, HEAD");
    }
    let response = response
        .body(())
        .expect("a status and valid headers make a response");
    stream.send_response(response).await?;
    events.now(EventKind::ResponseStart {
        status: status.as_u16(),
    });
    let sent = if head_only { 0 } else { body.len() as u64 };
    if !head_only {
        stream.send_data(Bytes::from(body)).await?;
    }
    stream.finish().await?;
    events.now(EventKind::ResponseEnd { bytes: sent });
    Ok(())
}
