//! Transfer layer: how each connection is opened — plain TCP or TLS, resumed or with early data,
//! with or without TCP Fast Open — named as `compare --variants` takes it. Must not import
//! capture or report code.

use std::fmt;
use std::str::FromStr;

use super::tls::{ClientTlsOptions, TlsVersion};

/// One way of opening connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name as given (`tcp`, `tls1.3+resume`, `tfo`, …).
    pub name: String,
    /// TCP Fast Open on both sides.
    pub fastopen: bool,
    /// TLS, when spoken.
    pub tls: Option<ClientTlsOptions>,
}

impl Variant {
    /// Plain TCP.
    pub fn tcp() -> Variant {
        Variant {
            name: "tcp".into(),
            fastopen: false,
            tls: None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Variant {
    type Err = String;

    /// `BASE[+EXTRA…]`: BASE is tcp, tls1.2, tls1.3 or tfo (tcp with Fast Open); EXTRA is resume,
    /// 0rtt (early data, TLS 1.3 only; implies resume) or tfo.
    fn from_str(text: &str) -> Result<Variant, String> {
        let mut parts = text.split('+');
        let base = parts.next().unwrap_or_default();
        let mut variant = Variant {
            name: text.to_owned(),
            fastopen: false,
            tls: None,
        };
        let tls = |version| ClientTlsOptions {
            version: Some(version),
            resume: false,
            early_data: false,
        };
        match base {
            "tcp" => {}
            "tfo" => variant.fastopen = true,
            "tls1.2" => variant.tls = Some(tls(TlsVersion::Tls12)),
            "tls1.3" => variant.tls = Some(tls(TlsVersion::Tls13)),
            other => {
                return Err(format!(
                    "unknown variant {other:?}: start with tcp, tfo, tls1.2 or tls1.3"
                ));
            }
        }
        for extra in parts {
            match (extra, &mut variant.tls) {
                ("tfo", _) => variant.fastopen = true,
                ("resume", Some(tls)) => tls.resume = true,
                ("0rtt", Some(tls)) if tls.version == Some(TlsVersion::Tls13) => {
                    tls.resume = true;
                    tls.early_data = true;
                }
                ("0rtt", Some(_)) => return Err(format!("{text}: 0-RTT needs tls1.3")),
                ("resume" | "0rtt", None) => {
                    return Err(format!("{text}: {extra} needs TLS (tls1.2 or tls1.3)"));
                }
                (other, _) => {
                    return Err(format!(
                        "{text}: unknown addition {other:?} (resume, 0rtt or tfo)"
                    ));
                }
            }
        }
        Ok(variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_parse_as_the_issue_names_them() {
        let v: Variant = "tls1.3+0rtt".parse().unwrap();
        assert_eq!(
            v.tls,
            Some(ClientTlsOptions {
                version: Some(TlsVersion::Tls13),
                resume: true,
                early_data: true
            })
        );
        assert!(!v.fastopen);
        let v: Variant = "tfo".parse().unwrap();
        assert!(v.fastopen && v.tls.is_none());
        let v: Variant = "tls1.2+resume+tfo".parse().unwrap();
        assert!(v.fastopen);
        assert_eq!(v.tls.map(|t| (t.resume, t.early_data)), Some((true, false)));
        assert_eq!("tcp".parse::<Variant>().unwrap(), Variant::tcp());
        for bad in ["tls1.2+0rtt", "tcp+resume", "quic", "tls1.3+fast", ""] {
            assert!(bad.parse::<Variant>().is_err(), "{bad}");
        }
    }
}
