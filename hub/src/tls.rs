//! The hub's TLS identity: a self-signed certificate made at first start in
//! the data directory (key file readable by its owner only). Desks do not
//! trust it through a certificate authority — a site hub on a LAN has none —
//! but by its SHA-256 fingerprint, which the enrollment code carries and the
//! desk pins (`vaxdesk_core::sync::client`).

use std::path::Path;

use sha2::{Digest, Sha256};

const CERT_FILE: &str = "hub-tls.cert.der";
const KEY_FILE: &str = "hub-tls.key.der";

#[derive(Clone)]
pub struct HubTls {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    /// SHA-256 of `cert_der`, lower-case hex: what desks pin.
    pub fingerprint: String,
}

impl std::fmt::Debug for HubTls {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubTls").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

pub fn fingerprint(cert_der: &[u8]) -> String {
    Sha256::digest(cert_der).iter().map(|b| format!("{b:02x}")).collect()
}

impl HubTls {
    /// The certificate kept in `dir`, or a new one for `hosts` (names or IP
    /// addresses browsers may check; desks check the fingerprint only).
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<HubTls, String> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        if key_path.exists() {
            let (cert_der, key_der) = (read(&cert_path)?, read(&key_path)?);
            return Ok(HubTls { fingerprint: fingerprint(&cert_der), cert_der, key_der });
        }
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
        names.extend(hosts.iter().filter(|h| !h.is_empty()).cloned());
        names.sort_unstable();
        names.dedup();
        let made = rcgen::generate_simple_self_signed(names).map_err(|e| format!("TLS certificate: {e}"))?;
        let (cert_der, key_der) = (made.cert.der().to_vec(), made.signing_key.serialize_der());
        crate::files::private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        vaxdesk_core::cert::write_private(&key_path, &key_der).map_err(|e| format!("{}: {e}", key_path.display()))?;
        std::fs::write(&cert_path, &cert_der).map_err(|e| format!("{}: {e}", cert_path.display()))?;
        tracing::info!(fingerprint = %fingerprint(&cert_der), "TLS certificate made");
        Ok(HubTls { fingerprint: fingerprint(&cert_der), cert_der, key_der })
    }

    /// A rustls server configuration for axum-server.
    pub fn server_config(&self) -> Result<axum_server::tls_rustls::RustlsConfig, String> {
        let key = rustls::pki_types::PrivateKeyDer::try_from(self.key_der.clone()).map_err(|e| format!("TLS key: {e}"))?;
        let cert = rustls::pki_types::CertificateDer::from(self.cert_der.clone());
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| format!("TLS: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn made_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = HubTls::load_or_create(dir.path(), &["hub.local".into()]).unwrap();
        let b = HubTls::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "the same identity after a restart");
        assert_eq!(a.fingerprint.len(), 64);
        assert!(!format!("{a:?}").contains(&format!("{:?}", &a.key_der[..8])), "Debug never shows the key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        a.server_config().unwrap();
    }
}
