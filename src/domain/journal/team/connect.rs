//! Reaching the team journal's server: the address (a libpq-style URL without its password),
//! TLS as libpq's `sslmode` says, the password from the keyring.
