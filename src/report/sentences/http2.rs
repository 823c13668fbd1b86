//! Report layer, sentences: HTTP/2 in words — the heading and notes of `analyze`'s HTTP/2
//! section. Must not import tables or the terminal report.

/// The heading of the HTTP/2 section of `analyze`.
pub const HTTP2_HEADING: &str = "HTTP/2 in cleartext (frames counted on the wire; requests = \
     client streams opened by a HEADERS frame; C/S = client/server)";

/// What the HTTP/2 table's "malformed" and "read" columns mean.
pub const HTTP2_READ_NOTE: &str = "malformed = frames that break HTTP/2's framing rules; read: \
     ok = every frame was read; gap = bytes missing from the capture stopped the reading; cut = \
     the snap length cut off a frame header; malformed = the bytes stopped reading as frames.";

/// The line under the HTTP/2 table when it leaves connections out.
pub fn http2_hidden(hidden: usize) -> Option<String> {
    (hidden > 0).then(|| format!("… {hidden} more HTTP/2 connections (--all shows them)"))
}

/// The line saying why some connections' requests read "?".
pub fn encrypted_requests_note(connections: u64) -> Option<String> {
    let (what, whose) = match connections {
        0 => return None,
        1 => ("1 connection over TLS shows".to_string(), "its"),
        n => (format!("{n} connections over TLS show"), "their"),
    };
    Some(format!(
        "{what} HTTP/2 in {whose} ALPN: the server's choice of h2 in a TLS 1.2 ServerHello, or \
         only the client's offer where TLS 1.3 encrypts the choice. The frames are encrypted, so \
         {whose} requests (\"?\" in the req column) are unknown without keys; counting record \
         turns would count flow control and pings as requests."
    ))
}
