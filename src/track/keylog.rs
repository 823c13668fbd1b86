//! Track layer: the NSS key log format (`SSLKEYLOGFILE`, written by browsers, curl, rustls and
//! synack): one secret a line, `LABEL <client random> <secret>` in hex, keyed by the random of the
//! ClientHello that opened the connection. Read from text; the command opens the file.
//!
//! Works on text alone; must not import capture, analysis or report code.

use rustc_hash::FxHashMap;

/// A secret's label: which keys of the connection it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretLabel {
    /// TLS 1.2 and before: the master secret (`CLIENT_RANDOM`).
    MasterSecret,
    /// TLS 1.3: the client's 0-RTT secret.
    ClientEarlyTraffic,
    /// TLS 1.3: the client's handshake traffic secret.
    ClientHandshakeTraffic,
    /// TLS 1.3: the server's handshake traffic secret.
    ServerHandshakeTraffic,
    /// TLS 1.3: the client's first application traffic secret.
    ClientTraffic0,
    /// TLS 1.3: the server's first application traffic secret.
    ServerTraffic0,
}

impl SecretLabel {
    fn parse(label: &str) -> Option<SecretLabel> {
        Some(match label {
            "CLIENT_RANDOM" => SecretLabel::MasterSecret,
            "CLIENT_EARLY_TRAFFIC_SECRET" => SecretLabel::ClientEarlyTraffic,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => SecretLabel::ClientHandshakeTraffic,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => SecretLabel::ServerHandshakeTraffic,
            "CLIENT_TRAFFIC_SECRET_0" => SecretLabel::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => SecretLabel::ServerTraffic0,
            _ => return None,
        })
    }
}

/// A ClientHello's random: the key of a connection's secrets.
pub type ClientRandom = [u8; 32];

/// The secrets of a key log, by client random and label.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    secrets: FxHashMap<(ClientRandom, SecretLabel), Vec<u8>>,
    /// Lines that were neither a comment, blank, a secret nor a label this reader passes over.
    malformed: u64,
}

impl KeyLog {
    /// Reads the lines of a key log; a line that is not `LABEL <64 hex digits> <hex secret>`
    /// is counted as malformed and passed over, and labels other than the six used here
    /// (`EXPORTER_SECRET`, …) are passed over quietly.
    pub fn parse(text: &str) -> KeyLog {
        let mut log = KeyLog::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                log.malformed += 1;
                continue;
            };
            let random = hex(random).and_then(|r| ClientRandom::try_from(r).ok());
            let secret = hex(secret).filter(|s| !s.is_empty() && s.len() <= 64);
            let (Some(random), Some(secret)) = (random, secret) else {
                log.malformed += 1;
                continue;
            };
            if let Some(label) = SecretLabel::parse(label) {
                log.secrets.insert((random, label), secret);
            }
        }
        log
    }

    /// The secret `label` of the connection whose ClientHello carried `random`.
    pub fn secret(&self, random: &ClientRandom, label: SecretLabel) -> Option<&[u8]> {
        self.secrets.get(&(*random, label)).map(Vec::as_slice)
    }

    /// Secrets read.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True when no secret was read.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Lines passed over as malformed.
    pub fn malformed_lines(&self) -> u64 {
        self.malformed
    }
}

/// The bytes an even-length hex string spells.
fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0102030405060708091011121314151617181920212223242526272829303132";

    #[test]
    fn secrets_are_found_by_random_and_label() {
        let text = format!(
            "# comment\n\nCLIENT_TRAFFIC_SECRET_0 {RANDOM} aabb\nEXPORTER_SECRET {RANDOM} cc\n"
        );
        let log = KeyLog::parse(&text);
        let random = ClientRandom::try_from(hex(RANDOM).unwrap()).unwrap();
        assert_eq!(
            log.secret(&random, SecretLabel::ClientTraffic0),
            Some(&[0xaa, 0xbb][..])
        );
        assert_eq!(log.secret(&random, SecretLabel::ServerTraffic0), None);
        assert_eq!((log.len(), log.malformed_lines()), (1, 0));
    }

    #[test]
    fn malformed_lines_are_counted_and_passed_over() {
        let text = format!(
            "CLIENT_RANDOM {RANDOM}\nCLIENT_RANDOM 0102 aa\nCLIENT_RANDOM {RANDOM} xyz\n\
             CLIENT_RANDOM {RANDOM} aa bb\nCLIENT_RANDOM {RANDOM} 00ff\n"
        );
        let log = KeyLog::parse(&text);
        assert_eq!((log.len(), log.malformed_lines()), (1, 4));
    }
}
