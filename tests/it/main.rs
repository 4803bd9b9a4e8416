//! Paydesk's integration tests, in one test binary: each module drives the library or the
//! `paydesk` binary against a sandbox gateway over real HTTP on 127.0.0.1.
//!
//! One binary, not one per file: every test binary links the whole crate and its console
//! dependencies, so a binary per file multiplied link time and disk use without making a
//! single test more independent (each test starts its own sandbox, journal and HOME).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod adversarial;
mod brands;
mod chaos;
mod cli;
mod cny_sandbox;
mod connection;
mod desk;
mod duplicates;
mod export;
mod gatepay_sandbox;
mod journal;
mod journal_rules;
mod listen;
mod lying_gateway;
mod oplog;
mod origins;
mod outcomes;
mod payouts;
mod reconcile;
mod reconcile_attack;
mod review_race;
mod team;
mod team_attack;
mod team_batches;
mod team_cli;
mod team_migrate;
mod team_migrate_attack;
mod team_profile;
mod team_upgrade_attack;
mod verifier;
