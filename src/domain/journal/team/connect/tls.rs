//! TLS for the team journal as libpq's `sslmode` says: which checks the server's certificate
//! gets and against which roots (`sslrootcert=FILE`, else Mozilla's roots from
//! `webpki-roots`). The ring provider is named here, so no process-wide default is needed.

use std::io::Read;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{SslMode, TeamError, TeamUrl};

/// The largest `sslrootcert` file read: a bundle of authorities, not a disk image.
const MAX_ROOT_CERT_BYTES: u64 = 1024 * 1024;

/// What is checked of the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// Nothing (the handshake's signatures still are): `allow`, `prefer`, `require`.
    Nothing,
    /// The chain up to a trusted root, not the name: `verify-ca` (and `require` with an
    /// `sslrootcert`, as libpq).
    Chain,
    /// The chain and that the certificate names the host: `verify-full`.
    ChainAndName,
}

/// The checks `url` asks for; `None`: no TLS at all.
pub(super) fn check_for(url: &TeamUrl) -> Option<Check> {
    match url.ssl_mode() {
        SslMode::Disable => None,
        SslMode::Allow | SslMode::Prefer => Some(Check::Nothing),
        SslMode::Require if url.ssl_root_cert().is_some() => Some(Check::Chain),
        SslMode::Require => Some(Check::Nothing),
        SslMode::VerifyCa => Some(Check::Chain),
        SslMode::VerifyFull => Some(Check::ChainAndName),
    }
}

/// The client's TLS mode and connector for `url`; `None`: connect without TLS.
pub(super) fn connector(
    url: &TeamUrl,
) -> Result<Option<(postgres::config::SslMode, MakeRustlsConnect)>, TeamError> {
    let Some(check) = check_for(url) else {
        return Ok(None);
    };
    // `allow` and `prefer` fall back to a plain connection when the server has no TLS.
    let mode = match url.ssl_mode() {
        SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algs = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(LibpqCheck { roots: None, algs }),
        Check::Chain => Arc::new(LibpqCheck {
            roots: Some(Arc::new(roots(url)?)),
            algs,
        }),
        Check::ChainAndName => {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(url)?), provider.clone())
                .build()
                .map_err(|e| TeamError::Url(format!("the TLS roots are not usable: {e}")))?
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TeamError::Url(format!("TLS cannot be set up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some((mode, MakeRustlsConnect::new(config))))
}

/// The authorities to trust: the PEM file `sslrootcert` names, else Mozilla's roots
/// (`sslrootcert=system` says so explicitly).
fn roots(url: &TeamUrl) -> Result<RootCertStore, TeamError> {
    let path = match url.ssl_root_cert() {
        None | Some("system") => {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        }
        Some(path) => path,
    };
    let bad = |why: String| TeamError::Url(format!("sslrootcert {path}: {why}"));
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_ROOT_CERT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_ROOT_CERT_BYTES {
        return Err(bad(format!(
            "is larger than {MAX_ROOT_CERT_BYTES} bytes: not a certificate file"
        )));
    }
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| bad(format!("is not a PEM certificate file: {e}")))?;
        store
            .add(cert)
            .map_err(|e| bad(format!("holds a certificate that is not usable: {e}")))?;
    }
    if store.is_empty() {
        return Err(bad(
            "holds no certificate (a PEM file with BEGIN CERTIFICATE)".to_owned(),
        ));
    }
    Ok(store)
}

/// The checks libpq makes short of `verify-full`: with no roots (`allow`, `prefer`,
/// `require`), encryption without knowing who is at the other end; with roots (`verify-ca`),
/// the certificate chains up to a trusted root and is in date, whatever host it names (a team
/// CA that issues only to its own servers). The handshake's signatures are always checked
/// against the certificate's key.
#[derive(Debug)]
struct LibpqCheck {
    roots: Option<Arc<RootCertStore>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for LibpqCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algs.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A TLS failure in words an operator can act on.
pub(super) fn why(url: &TeamUrl, e: &rustls::Error) -> String {
    let detail = match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by an authority this desk trusts (name the team's CA with sslrootcert=FILE)".to_owned()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate is not made out to {} (sslmode=verify-full checks the host name)",
            url.host()
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the server's certificate has expired".to_owned(),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "the server's certificate is not valid yet (is this desk's clock right?)".to_owned(),
        other => other.to_string(),
    };
    format!("TLS failed: {detail}")
}
