//! Paydesk: the library behind the operations console for merchants of a CNY bank-card
//! gateway and GatePay institution payouts. It holds the gateway core (money, signing, wire
//! types, clients), the domain services and the sandbox gateway; it never draws anything.

pub mod clock;
pub mod domain;
pub mod gateway;
pub mod logging;
pub mod money;
pub mod sandbox;
pub mod secret;

/// Takes a lock even if a panicking thread poisoned it: what these mutexes guard is plain
/// data that stays consistent between statements.
pub fn lock_unpoisoned<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
